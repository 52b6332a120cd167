//! Which problem kind a post speaks of, by the phrases listeners write ("can't log in":
//! `login`), so a page can say "45% of the posts on Mastodon are about login".
//!
//! Matching is forgiving about how people type and strict about where words end: case,
//! accents ("sesion" is "sesión") and apostrophes (’ is ') do not matter, and a phrase
//! matches whole words only, so "login" is not found in "blogging". Every character that
//! is not a letter or a digit separates words, so "log-in" reads as "log in" and "l'appli"
//! holds the word "appli".

use crate::problem::ProblemKind;

/// The phrases each well-known kind is found by when a service's config gives none, in
/// English, German, French, Spanish and Portuguese. `other` has none: it is what is left.
///
/// A phrase that belongs to two kinds would make them tie; a test keeps them apart. Where a
/// word means two things ("lecture" is playback, "liste de lecture" a playlist), the list
/// holds the longer phrases instead of the bare word.
pub const DEFAULT_KEYWORDS: [(&str, &[&str]); 6] = [
    (
        "login",
        &[
            // en
            "log in",
            "login",
            "logging in",
            "log out",
            "logged out",
            "logs me out",
            "logged me out",
            "sign in",
            "signing in",
            "signed out",
            "password",
            "my account",
            "verification code",
            "two factor",
            // de
            "anmelden",
            "anmeldung",
            "einloggen",
            "eingeloggt",
            "ausgeloggt",
            "abgemeldet",
            "passwort",
            "mein konto",
            // fr
            "connexion",
            "me connecter",
            "se connecter",
            "mot de passe",
            "identifiant",
            "identifiants",
            "deconnecte",
            "deconnectee",
            "mon compte",
            // es
            "iniciar sesion",
            "inicio de sesion",
            "cerro la sesion",
            "cerro sesion",
            "no puedo entrar",
            "contrasena",
            "mi cuenta",
            // pt
            "fazer login",
            "nao consigo entrar",
            "entrar na conta",
            "minha conta",
            "senha",
            "deslogou",
            "deslogado",
        ],
    ),
    (
        "playback",
        &[
            // en
            "won't play",
            "wont play",
            "doesn't play",
            "not playing",
            "can't play",
            "cannot play",
            "stops playing",
            "stopped playing",
            "keeps stopping",
            "keeps pausing",
            "skipping",
            "skips",
            "no sound",
            "no audio",
            "buffering",
            "playback",
            "stuttering",
            "cuts out",
            "music stops",
            // de
            "wiedergabe",
            "spielt nicht",
            "spielt keine",
            "kein ton",
            "kein sound",
            "bricht ab",
            "stockt",
            "springt",
            // fr
            "la lecture",
            "erreur de lecture",
            "lecture impossible",
            "ne joue pas",
            "ne lit pas",
            "pas de son",
            "aucun son",
            "se coupe",
            "la musique s'arrete",
            "saccade",
            // es
            "la reproduccion",
            "error de reproduccion",
            "no se reproduce",
            "no reproduce",
            "sin sonido",
            "no suena",
            "no hay sonido",
            "se corta",
            "se detiene",
            // pt
            "a reproducao",
            "erro de reproducao",
            "nao toca",
            "nao reproduz",
            "parou de tocar",
            "para de tocar",
            "sem som",
            "sem audio",
            "fica travando",
        ],
    ),
    (
        "playlists",
        &[
            // en
            "playlist",
            "playlists",
            "my library",
            "library",
            "liked songs",
            "saved songs",
            "saved albums",
            "favourites",
            "favorites",
            "downloads",
            // de
            "bibliothek",
            "mediathek",
            "lieblingssongs",
            "gespeicherte songs",
            "meine songs",
            // fr
            "liste de lecture",
            "listes de lecture",
            "bibliotheque",
            "mes titres",
            "titres likes",
            "favoris",
            "telechargements",
            // es
            "lista de reproduccion",
            "listas de reproduccion",
            "biblioteca",
            "canciones guardadas",
            "mis canciones",
            "descargas",
            // pt
            "lista de reproducao",
            "musicas curtidas",
            "musicas salvas",
            "minhas musicas",
        ],
    ),
    (
        "crash",
        &[
            // en
            "crash",
            "crashes",
            "crashed",
            "crashing",
            "keeps closing",
            "force close",
            "black screen",
            "blank screen",
            "white screen",
            "frozen",
            "freezes",
            "won't open",
            "wont open",
            "doesn't open",
            "won't start",
            // de
            "sturzt ab",
            "absturz",
            "abgesturzt",
            "schwarzer bildschirm",
            "weisser bildschirm",
            "schliesst sich",
            "friert ein",
            "startet nicht",
            // fr
            "plante",
            "plantage",
            "se ferme",
            "ecran noir",
            "ecran blanc",
            "ne s'ouvre pas",
            "figee",
            // es
            "se cierra",
            "se cuelga",
            "se congela",
            "pantalla negra",
            "pantalla en blanco",
            "no abre",
            "no se abre",
            "crashea",
            // pt
            "fecha sozinho",
            "fechando sozinho",
            "travou",
            "trava",
            "crashou",
            "tela preta",
            "tela branca",
            "nao abre",
        ],
    ),
    (
        "connection",
        &[
            // en
            "connection",
            "no connection",
            "can't connect",
            "cannot connect",
            "unable to connect",
            "offline",
            "no internet",
            "network error",
            "server error",
            "not loading",
            "won't load",
            "timed out",
            "timeout",
            "unreachable",
            // de
            "keine verbindung",
            "verbindung",
            "verbindungsfehler",
            "netzwerk",
            "netzwerkfehler",
            "kein internet",
            "ladt nicht",
            "nicht erreichbar",
            // fr
            "pas de connexion",
            "connexion internet",
            "hors ligne",
            "reseau",
            "erreur reseau",
            "ne charge pas",
            "serveur",
            // es
            "sin conexion",
            "conexion",
            "error de red",
            "sin internet",
            "no carga",
            "no conecta",
            "servidor",
            // pt
            "sem conexao",
            "conexao",
            "sem internet",
            "erro de rede",
            "nao carrega",
            "nao conecta",
        ],
    ),
    (
        "search",
        &[
            // en
            "search",
            "searching",
            "search results",
            "can't find",
            "cannot find",
            "no results",
            // de
            "suche",
            "suchen",
            "suchfunktion",
            "findet nichts",
            "keine ergebnisse",
            // fr
            "recherche",
            "rechercher",
            "aucun resultat",
            "trouve rien",
            "introuvable",
            // es
            "busqueda",
            "buscar",
            "buscador",
            "no encuentro",
            "no encuentra",
            "sin resultados",
            // pt
            "pesquisa",
            "pesquisar",
            "busca",
            "nao encontra",
            "nao acho",
            "nenhum resultado",
        ],
    ),
];

/// The default phrases of a well-known kind (none for `other` or a custom kind).
pub fn default_keywords(id: &str) -> Option<&'static [&'static str]> {
    DEFAULT_KEYWORDS
        .iter()
        .find(|(k, _)| *k == id)
        .map(|(_, words)| *words)
}

/// The kind `text` speaks of: the one with the most of its phrases in the text (each phrase
/// counts once), the earlier in `keywords` on a tie; `None` when no phrase is found.
pub fn classify(text: &str, keywords: &[(ProblemKind, Vec<String>)]) -> Option<ProblemKind> {
    let text = words(text);
    let mut best: Option<(&ProblemKind, usize)> = None;
    for (kind, phrases) in keywords {
        let found = phrases
            .iter()
            .filter(|p| contains(&text, &words(p)))
            .count();
        if found > 0 && best.is_none_or(|(_, n)| found > n) {
            best = Some((kind, found));
        }
    }
    best.map(|(kind, _)| kind.clone())
}

/// Whether `phrase` holds a letter or a digit: one without any can never match.
pub fn has_words(phrase: &str) -> bool {
    !words(phrase).is_empty()
}

/// Whether the words of `phrase` follow each other in `text` (both as [`words`] gives
/// them).
pub fn contains(text: &[String], phrase: &[String]) -> bool {
    !phrase.is_empty() && text.windows(phrase.len()).any(|w| w == phrase)
}

/// `s` as words to match: lower case, accents dropped, split at everything that is not a
/// letter or a digit (so "can't" is "can t", "Melodia's" holds "melodia"). The signal
/// pollers judge relevance in the same words.
pub fn words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    for c in s.chars().flat_map(char::to_lowercase) {
        if is_combining_mark(c) {
            // The accent of a decomposed letter ("e" + U+0301): the letter stays.
            continue;
        }
        if let Some(plain) = unaccented(c) {
            word.push_str(plain);
        } else if c.is_alphanumeric() {
            word.push(c);
        } else if !word.is_empty() {
            out.push(std::mem::take(&mut word));
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// Combining diacritical marks (U+0300–U+036F).
fn is_combining_mark(c: char) -> bool {
    ('\u{300}'..='\u{36f}').contains(&c)
}

/// A lower-case Latin letter with an accent as the plain letters people type without one.
/// The five languages of [`DEFAULT_KEYWORDS`] use no others.
fn unaccented(c: char) -> Option<&'static str> {
    Some(match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => "a",
        'ç' => "c",
        'è' | 'é' | 'ê' | 'ë' => "e",
        'ì' | 'í' | 'î' | 'ï' => "i",
        'ñ' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' => "o",
        'ù' | 'ú' | 'û' | 'ü' => "u",
        'ý' | 'ÿ' => "y",
        'ß' => "ss",
        'æ' => "ae",
        'œ' => "oe",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::DEFAULT_PROBLEMS;
    use std::collections::HashMap;

    fn defaults() -> Vec<(ProblemKind, Vec<String>)> {
        DEFAULT_PROBLEMS
            .iter()
            .map(|(id, _)| {
                let words = default_keywords(id).unwrap_or_default();
                (
                    ProblemKind::parse(id).unwrap(),
                    words.iter().map(|w| (*w).to_owned()).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn posts_in_five_languages_find_their_kind() {
        let kw = defaults();
        let cases: &[(&str, Option<&str>)] = &[
            // en
            (
                "Can't log in to Melodia since this morning??",
                Some("login"),
            ),
            (
                "melodia keeps logging me out, then says wrong password",
                Some("login"),
            ),
            (
                "Song won’t play, just spins. #melodiadown",
                Some("playback"),
            ),
            ("no sound on any track, app says playing", Some("playback")),
            ("All my playlists are gone?!", Some("playlists")),
            ("Melodia app crashes on launch, black screen", Some("crash")),
            (
                "Melodia: network error, can't connect from home or 4G",
                Some("connection"),
            ),
            ("search returns no results for anything", Some("search")),
            // de
            ("Kann mich bei Melodia nicht anmelden", Some("login")),
            ("Wiedergabe bricht nach 10 Sekunden ab", Some("playback")),
            ("Meine Bibliothek ist leer!", Some("playlists")),
            ("App stürzt ab sobald ich sie öffne", Some("crash")),
            (
                "Keine Verbindung zum Server, lädt nicht",
                Some("connection"),
            ),
            ("Die Suche findet nichts mehr", Some("search")),
            // fr
            ("Impossible de me connecter à Melodia 😡", Some("login")),
            ("Pas de son depuis ce matin", Some("playback")),
            ("Ma liste de lecture a disparu", Some("playlists")),
            ("L'appli plante et écran noir", Some("crash")),
            ("Hors ligne alors que j'ai du réseau", Some("connection")),
            ("La recherche ne trouve rien", Some("search")),
            // es
            ("No puedo iniciar sesion en Melodia", Some("login")),
            ("La canción no se reproduce, sin sonido", Some("playback")),
            (
                "Desaparecieron mis listas de reproducción",
                Some("playlists"),
            ),
            ("Melodia se cierra sola al abrirla", Some("crash")),
            ("Sin conexión desde hace una hora", Some("connection")),
            ("El buscador no encuentra nada", Some("search")),
            // pt
            (
                "Não consigo entrar na minha conta do Melodia",
                Some("login"),
            ),
            ("A música não toca, fica travando", Some("playback")),
            ("Sumiram as músicas curtidas", Some("playlists")),
            ("O app travou e fecha sozinho", Some("crash")),
            ("Melodia sem conexão de novo", Some("connection")),
            ("Não consigo pesquisar nenhuma música", Some("search")),
            // nothing a kind's phrases say
            ("Blogging about melodia's new logo", None),
            ("Melodia ist heute großartig", None),
            ("¿Alguien más escucha Melodia hoy?", None),
        ];
        for (text, want) in cases {
            let got = classify(text, &kw);
            assert_eq!(got.as_ref().map(ProblemKind::as_str), *want, "{text:?}");
        }
    }

    #[test]
    fn case_accents_and_apostrophes_do_not_matter_but_word_edges_do() {
        let kind = |id: &str, words: &[&str]| {
            (
                ProblemKind::parse(id).unwrap(),
                words.iter().map(|w| (*w).to_owned()).collect::<Vec<_>>(),
            )
        };
        let login = |w: &[&str]| vec![kind("login", w)];
        let found = |text: &str, kw: &[(ProblemKind, Vec<String>)]| classify(text, kw).is_some();
        // Accents either way round, precomposed or combining.
        assert!(found(
            "No puedo INICIAR SESIÓN",
            &login(&["iniciar sesion"])
        ));
        assert!(found(
            "no puedo iniciar sesion",
            &login(&["iniciar sesión"])
        ));
        assert!(found("iniciar sesio\u{301}n", &login(&["iniciar sesión"])));
        assert!(found("Straße", &login(&["strasse"])));
        // Typographic apostrophes are apostrophes.
        assert!(found("I can’t log in", &login(&["can't log in"])));
        assert!(found("I can't log in", &login(&["can’t log in"])));
        // Whole words only, and the words of a phrase in order.
        assert!(!found("blogging all day", &login(&["login", "log in"])));
        assert!(!found("logins", &login(&["login"])));
        assert!(!found("in log", &login(&["log in"])));
        assert!(found("log-in fails", &login(&["log in"])));
        assert!(found("(login)", &login(&["login"])));
        assert!(!found("anything", &login(&["!!"])));
        assert!(!found("", &login(&["login"])));
    }

    #[test]
    fn the_kind_with_most_phrases_wins_and_ties_go_to_the_earlier() {
        let kw = |a: &[&str], b: &[&str]| {
            vec![
                (
                    ProblemKind::parse("login").unwrap(),
                    a.iter().map(|w| (*w).to_owned()).collect::<Vec<_>>(),
                ),
                (
                    ProblemKind::parse("playback").unwrap(),
                    b.iter().map(|w| (*w).to_owned()).collect(),
                ),
            ]
        };
        let text = "logged out and now no sound, no audio";
        let of = |k: &[(ProblemKind, Vec<String>)]| classify(text, k).map(|k| k.to_string());
        assert_eq!(
            of(&kw(&["logged out"], &["no sound", "no audio"])).as_deref(),
            Some("playback"),
            "two phrases beat one"
        );
        assert_eq!(
            of(&kw(&["logged out"], &["no sound"])).as_deref(),
            Some("login"),
            "a tie goes to the earlier kind"
        );
        assert_eq!(of(&kw(&[], &[])), None);
        assert_eq!(
            classify(
                "no sound, no sound, no sound: logged out and signed out",
                &kw(&["logged out", "signed out"], &["no sound"])
            )
            .map(|k| k.to_string())
            .as_deref(),
            Some("login"),
            "phrases count, not how often one is repeated"
        );
    }

    #[test]
    fn default_phrases_belong_to_one_kind_each_and_are_written_as_they_are_matched() {
        let mut owner: HashMap<Vec<String>, &str> = HashMap::new();
        for (kind, phrases) in DEFAULT_KEYWORDS {
            assert!(
                DEFAULT_PROBLEMS.iter().any(|(id, _)| *id == kind),
                "{kind} is a default kind"
            );
            assert!(phrases.len() <= 100, "{kind}: at most 100, as in a config");
            for p in phrases {
                let w = words(p);
                assert!(!w.is_empty() && p.chars().count() <= 60, "{kind}: {p:?}");
                // Lower case and unaccented, so a reader sees what is matched.
                assert_eq!(w.join(" "), p.replace('\'', " "), "{kind}: {p:?}");
                if let Some(other) = owner.insert(w, kind) {
                    panic!("{p:?} is in both {other} and {kind}");
                }
            }
        }
        assert_eq!(default_keywords("other"), None);
        assert_eq!(default_keywords("podcasts"), None);
        assert!(default_keywords("search").unwrap().contains(&"busqueda"));
    }
}

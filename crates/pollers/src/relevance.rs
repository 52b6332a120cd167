//! Whether a post speaks of the service's trouble: its inclusion words (the service's name,
//! its hashtags) plus phrases listeners use when something is down, in English, German,
//! French, Spanish and Portuguese. Downdetector counts social posts the same way: words per
//! company, scored for relevance, so "Melodia's new album is out" is not an outage.
//!
//! Matching is on whole words, case- and accent-blind ("störung" matches "storung" and
//! "STÖRUNG"), so "down" never matches "download" — the words problem kinds are found by
//! ([`downbeat_domain::problem_words::words`]).

use downbeat_config::poll::PollConfig;
use downbeat_domain::problem_words::{contains, words};

/// What listeners write when a service is in trouble, accents folded.
pub const TROUBLE_PHRASES: &[&str] = &[
    // English
    "down",
    "is down",
    "not working",
    "isnt working",
    "isn't working",
    "doesnt work",
    "doesn't work",
    "stopped working",
    "outage",
    "error",
    "errors",
    "can't log in",
    "cant log in",
    "cannot log in",
    "can't login",
    "cant login",
    "won't load",
    "wont load",
    "not loading",
    "crashed",
    "crashing",
    "keeps crashing",
    "broken",
    "problems",
    "issues",
    "is it just me",
    "just me",
    "went wrong",
    "offline",
    "not playing",
    // German
    "funktioniert nicht",
    "geht nicht",
    "stoerung",
    "storung",
    "ausfall",
    "fehler",
    "kann mich nicht anmelden",
    "kaputt",
    "nicht erreichbar",
    "probleme",
    "laedt nicht",
    "ladt nicht",
    // French
    "ne marche pas",
    "marche pas",
    "ne fonctionne pas",
    "fonctionne plus",
    "en panne",
    "panne",
    "erreur",
    "impossible de me connecter",
    "bug",
    "beug",
    "probleme",
    "hors service",
    // Spanish
    "no funciona",
    "caido",
    "caida",
    "se cayo",
    "no puedo iniciar sesion",
    "no puedo entrar",
    "falla",
    "fallo",
    "problemas",
    "no carga",
    // Portuguese
    "nao funciona",
    "fora do ar",
    "caiu",
    "erro",
    "nao consigo entrar",
    "nao consigo logar",
    "problema",
    "nao carrega",
    "travando",
    "travou",
];

/// Endings of hashtags that say trouble by themselves: `#MelodiaDown`, `#MelodiaCaiu`.
const TROUBLE_TAG_ENDINGS: &[&str] = &[
    "down", "outage", "fail", "kaputt", "ausfall", "stoerung", "storung", "panne", "caido",
    "caida", "caiu", "foradoar",
];

/// What became of a post.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Relevant enough: kept, with its score.
    Kept(u32),
    /// Carries an exclusion word.
    Excluded,
    /// In a language the poller does not keep.
    Language,
    /// No inclusion word, or too few trouble phrases.
    Irrelevant,
}

/// A poller's words, folded once.
#[derive(Debug, Clone)]
pub struct Relevance {
    include: Vec<Vec<String>>,
    exclude: Vec<Vec<String>>,
    trouble: Vec<Vec<String>>,
    languages: Vec<String>,
    min_score: u32,
}

impl Relevance {
    pub fn new(config: &PollConfig) -> Self {
        let folded = |v: &[String]| {
            v.iter()
                .map(|w| words(w))
                .filter(|w| !w.is_empty())
                .collect()
        };
        Relevance {
            include: folded(&config.include),
            exclude: folded(&config.exclude),
            trouble: TROUBLE_PHRASES.iter().map(|p| words(p)).collect(),
            languages: config.languages.clone(),
            min_score: config.min_score,
        }
    }

    /// Judges a post: 2 for carrying an inclusion word, 1 per trouble phrase (3 at most); a
    /// hashtag made of an inclusion word and a trouble ending (`#MelodiaDown`) is both.
    pub fn judge(&self, text: &str, lang: Option<&str>) -> Fate {
        if let Some(l) = lang
            && !self.languages.is_empty()
            && !self.languages.iter().any(|k| k == l)
        {
            return Fate::Language;
        }
        let text = words(text);
        let has = |phrase: &Vec<String>| contains(&text, phrase);
        if self.exclude.iter().any(has) {
            return Fate::Excluded;
        }
        // One-word inclusion words only: a hashtag is one word.
        let tagged = text.iter().any(|token| {
            self.include.iter().any(|w| {
                matches!(w.as_slice(), [w] if token
                    .strip_prefix(w.as_str())
                    .is_some_and(|end| TROUBLE_TAG_ENDINGS.contains(&end)))
            })
        });
        let included = tagged || self.include.iter().any(has);
        if !included {
            return Fate::Irrelevant;
        }
        let phrases = self.trouble.iter().filter(|p| has(p)).count() as u32 + u32::from(tagged);
        let score = 2 + phrases.min(3);
        if score >= self.min_score {
            Fate::Kept(score)
        } else {
            Fate::Irrelevant
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use downbeat_config::poll::PollKind;
    use downbeat_domain::Span;

    fn rules(include: &[&str], exclude: &[&str], languages: &[&str]) -> Relevance {
        Relevance::new(&PollConfig {
            kind: PollKind::Feed,
            url: "https://forum.example/feed".into(),
            include: include.iter().map(|s| s.to_string()).collect(),
            exclude: exclude.iter().map(|s| s.to_string()).collect(),
            languages: languages.iter().map(|s| s.to_string()).collect(),
            every: Span::from_secs(60),
            timeout: Span::from_secs(10),
            min_score: 3,
        })
    }

    #[test]
    fn posts_about_trouble_in_five_languages_are_kept_the_rest_not() {
        let r = rules(&["melodia"], &["melodia festival"], &[]);
        for (text, fate) in [
            ("Is Melodia down for anyone else?", Fate::Kept(3)),
            ("#MelodiaDown again 😩", Fate::Kept(3)),
            ("melodia: can’t log in, error 503", Fate::Kept(4)),
            ("Melodia funktioniert nicht – Störung?", Fate::Kept(4)),
            ("Melodia ne marche pas depuis ce matin", Fate::Kept(4)),
            ("¿Melodia no funciona? Se cayó todo", Fate::Kept(4)),
            ("A Melodia caiu? Não consigo entrar", Fate::Kept(4)),
            // an inclusion word alone is not trouble
            ("Melodia's new playlist is great", Fate::Irrelevant),
            // trouble without the service is someone else's
            ("my router is down again", Fate::Irrelevant),
            // whole words only: "download" is not "down", "melodias" is not "melodia"
            ("Download melodias offline playlists", Fate::Irrelevant),
            ("Melodia Festival tickets: the site is down", Fate::Excluded),
        ] {
            assert_eq!(r.judge(text, None), fate, "{text}");
        }
    }

    #[test]
    fn languages_filter_only_posts_that_say_theirs() {
        let r = rules(&["melodia"], &[], &["en", "pt"]);
        assert_eq!(r.judge("Melodia is down", Some("en")), Fate::Kept(4));
        assert_eq!(r.judge("Melodia caiu", Some("pt")), Fate::Kept(3));
        assert_eq!(r.judge("Melodia ist down", Some("de")), Fate::Language);
        assert_eq!(r.judge("Melodia is down", None), Fate::Kept(4));
    }

    #[test]
    fn matching_is_case_accent_and_apostrophe_blind() {
        let r = rules(&["melodia"], &[], &[]);
        for text in [
            "MELODIA: STÖRUNG!!",
            "Melodia’s app: Can’t log-in…",
            "MELODIA NÃO FUNCIONA",
        ] {
            assert!(matches!(r.judge(text, None), Fate::Kept(_)), "{text}");
        }
    }
}

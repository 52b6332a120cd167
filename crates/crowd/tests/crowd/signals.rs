//! External signals in the crowd stage: each source has its own series; a source that may
//! raise the verdict `alone` does, one that may only `corroborate` lifts only a crowd that
//! already sees possible problems; `/status`, the explanation and the stored change carry
//! the sources' figures, and what their posts are about.

use super::*;
use downbeat_config::Raises;
use downbeat_crowd::{overall_verdict, signal_series};
use downbeat_domain::Slug;
use downbeat_domain::signal::{Post, Signal};

fn config(raises: &str) -> String {
    format!(
        r#"
[[service]]
id = "melodia"
name = "Melodia"

[[service.signal]]
source = "forum"
name = "the forum"
raises = "{raises}"
"#
    )
}

impl Rig {
    /// `count` posts counted by the forum in minute `m`.
    async fn posts(&self, m: i64, count: u32) {
        let at_ms = self.t0 + m * MINUTE + 20_000;
        self.store
            .insert_signals(
                "melodia",
                &[Signal::Count {
                    source: Slug::parse("forum").unwrap(),
                    at_ms,
                    count,
                }],
                at_ms,
            )
            .await
            .unwrap();
    }

    /// Forum posts with text in minute `m`, `n` of each text, classified by the service's
    /// keywords as the API does.
    async fn texts(&self, m: i64, texts: &[(&str, usize)]) {
        let service = &self.crowd.config.load().services[0];
        let mut batch = Vec::new();
        for &(text, n) in texts {
            for i in 0..n {
                let text = format!("{text} #{i}");
                batch.push(Signal::Post(Post {
                    source: Slug::parse("forum").unwrap(),
                    at_ms: self.t0 + m * MINUTE + 30_000 + batch.len() as i64,
                    kind: service.classify(&text),
                    text,
                    url: None,
                    lang: None,
                }));
            }
        }
        let at_ms = self.t0 + m * MINUTE + 40_000;
        self.store
            .insert_signals("melodia", &batch, at_ms)
            .await
            .unwrap();
    }

    /// Minutes `[from, to)` of calm reports and a few forum posts, judged.
    async fn calm_with_posts(&mut self, from: i64, to: i64) {
        for m in from..to {
            self.reports(m, 6 + (m % 3) as u32, "US").await;
            self.posts(m, 2 + (m % 2) as u32).await;
            let s = self.judge(m).await;
            assert_eq!(s.verdict, Verdict::NoProblems, "false alarm at minute {m}");
        }
    }

    /// Judges minutes `from..from + 6` with a surge of `posts` forum posts a minute and
    /// calm reports; the first status whose forum series is not calm.
    async fn chatter(&mut self, from: i64, posts: u32) -> (i64, Arc<CrowdStatus>) {
        for m in from..from + 6 {
            self.reports(m, 6 + (m % 3) as u32, "US").await;
            self.posts(m, posts).await;
            let s = self.judge(m).await;
            if s.signals[0].verdict != Verdict::NoProblems {
                return (m, s);
            }
        }
        panic!("the forum's surge raised nothing of its own")
    }
}

#[test]
fn sources_raise_the_verdict_as_configured() {
    use Verdict::*;
    let alone = |v| (Raises::Alone, v);
    let corroborate = |v| (Raises::Corroborate, v);
    let cases = [
        (NoProblems, vec![], NoProblems),
        (NoProblems, vec![alone(Problems)], Problems),
        (NoProblems, vec![alone(PossibleProblems)], PossibleProblems),
        (Problems, vec![alone(NoProblems)], Problems),
        (NoProblems, vec![corroborate(Problems)], NoProblems),
        (
            PossibleProblems,
            vec![corroborate(PossibleProblems)],
            PossibleProblems,
        ),
        (PossibleProblems, vec![corroborate(Problems)], Problems),
        (
            NoProblems,
            vec![corroborate(Problems), alone(PossibleProblems)],
            PossibleProblems,
        ),
    ];
    for (crowd, sources, expected) in cases {
        assert_eq!(
            overall_verdict(crowd, &sources),
            expected,
            "{crowd:?} {sources:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_that_may_raise_alone_calls_the_outage_and_says_why() {
    for target in testing::all().await {
        let name = target.name;
        let mut rig = Rig::with_config(&target, t0(), &config("alone")).await;
        rig.calm_with_posts(0, 90).await;
        let (m, s) = rig.chatter(90, 120).await;
        assert_ne!(
            s.verdict,
            Verdict::NoProblems,
            "{name}: the forum alone raises it"
        );
        let forum = &s.signals[0];
        assert_eq!(
            (forum.source.as_str(), forum.raises),
            ("forum", "alone"),
            "{name}"
        );
        assert!(forum.last_hour >= 120, "{name}: {forum:?}");
        // Two minutes of 120 posts in an hour of about 2.5 a minute.
        assert!(forum.ratio.is_some_and(|r| r > 2.0), "{name}: {forum:?}");
        assert!(
            s.explanation.starts_with("Posts on the forum: ")
                && s.explanation.contains("in the last hour")
                && s.explanation.contains("Reports at the usual level"),
            "{name}: the posts come first, then the reports: {}",
            s.explanation
        );
        let stored = rig.store.verdict_events("melodia", 0, 100).await.unwrap();
        let e = stored
            .iter()
            .find(|e| e.series == "all" && e.at_ms == rig.t0 + m * MINUTE)
            .unwrap_or_else(|| panic!("{name}: the service's change is stored: {stored:?}"));
        assert_eq!(e.previous, Verdict::NoProblems, "{name}");
        assert_eq!(
            e.evidence["signals"][0]["source"], "forum",
            "{name}: {}",
            e.evidence
        );
        assert!(
            stored.iter().any(|e| e.series == signal_series("forum")),
            "{name}: the forum's own change is stored too"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_that_may_only_corroborate_does_not_call_an_outage_alone() {
    for target in testing::all().await {
        let name = target.name;
        let mut rig = Rig::with_config(&target, t0(), &config("corroborate")).await;
        rig.calm_with_posts(0, 90).await;
        let (_, s) = rig.chatter(90, 120).await;
        assert_eq!(
            s.verdict,
            Verdict::NoProblems,
            "{name}: chatter alone moves nothing"
        );
        assert!(
            s.explanation.starts_with("Reports at the usual level")
                && s.explanation.contains("Posts on the forum: "),
            "{name}: the reports first, the posts as context: {}",
            s.explanation
        );
        let stored = rig.store.verdict_events("melodia", 0, 100).await.unwrap();
        assert!(
            !stored.iter().any(|e| e.series == "all"),
            "{name}: no change of the service: {stored:?}"
        );
    }
}

/// A restart while a source holds the verdict above the crowd's does not tell the change
/// again: the stage starts from the verdict last told, so the told changes stay one chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_during_an_outage_raised_by_a_source_tells_nothing_twice() {
    for target in testing::all().await {
        let name = target.name;
        let mut rig = Rig::with_config(&target, t0(), &config("alone")).await;
        rig.calm_with_posts(0, 90).await;
        let (m, _) = rig.chatter(90, 120).await;
        for later in m + 1..m + 4 {
            rig.reports(later, 6 + (later % 3) as u32, "US").await;
            rig.posts(later, 120).await;
            rig.judge(later).await;
        }
        downbeat_crowd::save_all(&rig.crowd).await.unwrap();
        let told = |events: Vec<downbeat_store::VerdictEvent>| -> Vec<(i64, Verdict, Verdict)> {
            let mut all: Vec<_> = events
                .into_iter()
                .filter(|e| e.series == "all")
                .map(|e| (e.at_ms, e.previous, e.verdict))
                .collect();
            all.sort_by_key(|e| e.0);
            all
        };
        let before = told(rig.store.verdict_events("melodia", 0, 100).await.unwrap());
        assert_eq!(
            before.last().map(|e| e.2),
            Some(Verdict::Problems),
            "{name}: {before:?}"
        );

        let mut again = Rig::on_config(
            rig.store.clone(),
            rig.clock.clone(),
            rig.t0,
            &config("alone"),
        );
        again.next = rig.next;
        for later in m + 4..m + 7 {
            again.reports(later, 6 + (later % 3) as u32, "US").await;
            again.posts(later, 120).await;
            let s = again.judge(later).await;
            assert_eq!(
                s.verdict,
                Verdict::Problems,
                "{name}: still raised at {later}"
            );
        }
        let after = told(again.store.verdict_events("melodia", 0, 100).await.unwrap());
        assert_eq!(
            after, before,
            "{name}: nothing told again after the restart"
        );
    }
}

/// A source's posts of the last hour are sorted into the service's problem kinds: `/status`
/// names the kinds with enough of them, and the explanation and the stored change say what
/// most are about.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_says_what_a_sources_posts_are_about() {
    for target in testing::all().await {
        let name = target.name;
        let mut rig = Rig::with_config(&target, t0(), &config("alone")).await;
        rig.calm_with_posts(0, 90).await;
        let calm = rig.judge(89).await;
        assert_eq!(calm.signals[0].kinds, [], "{name}: counts carry no kinds");
        // 40 posts: 18 login (45%), 6 playback (15%), 3 crash (under 10%), 2 search (too
        // few), 11 about nothing a kind's phrases say.
        rig.texts(
            90,
            &[
                ("Can't log in to Melodia", 10),
                ("Kann mich nicht anmelden", 8),
                ("no sound at all", 6),
                ("the app crashes", 3),
                ("search is empty", 2),
                ("melodia down?", 11),
            ],
        )
        .await;
        let (m, s) = rig.chatter(90, 120).await;
        let forum = &s.signals[0];
        let kinds: Vec<(&str, &str, u32)> = forum
            .kinds
            .iter()
            .map(|k| (k.kind.as_str(), k.label.as_str(), k.percent))
            .collect();
        assert_eq!(
            kinds,
            [("login", "Login", 45), ("playback", "Playback", 15)],
            "{name}: {forum:?}"
        );
        assert!(
            s.explanation.starts_with("Posts on the forum: ")
                && s.explanation.contains("× usual, 45% about login."),
            "{name}: {}",
            s.explanation
        );
        let stored = rig.store.verdict_events("melodia", 0, 100).await.unwrap();
        let e = stored
            .iter()
            .find(|e| e.series == "all" && e.at_ms == rig.t0 + m * MINUTE)
            .unwrap_or_else(|| panic!("{name}: the service's change is stored: {stored:?}"));
        assert!(e.explanation.contains("45% about login"), "{name}: {e:?}");
        assert_eq!(
            e.evidence["signals"][0]["kinds"][0],
            serde_json::json!({"kind": "login", "label": "Login", "percent": 45}),
            "{name}: {}",
            e.evidence
        );
        // An hour later the posts have left the window.
        for later in m + 1..151 {
            rig.reports(later, 6 + (later % 3) as u32, "US").await;
            rig.posts(later, 2).await;
            rig.judge(later).await;
        }
        let later = rig.judge(150).await;
        assert_eq!(later.signals[0].kinds, [], "{name}: {:?}", later.signals[0]);
    }
}

/// A poller may read posts before anyone has reported: the first round starts at the first
/// post, not at the first report, so the hour's posts count from the start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_before_the_first_report_count_from_the_first_round() {
    for target in testing::all().await {
        let name = target.name;
        let mut rig = Rig::with_config(&target, t0(), &config("corroborate")).await;
        for m in 0..10 {
            rig.posts(m, 3).await;
        }
        rig.reports(10, 5, "US").await;
        let s = rig.judge(10).await;
        assert_eq!(s.signals[0].last_hour, 30, "{name}: {:?}", s.signals[0]);
    }
}

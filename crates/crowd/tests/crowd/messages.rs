//! What listeners' screens say reaches `/status`: the breakdown carries the clusters enough
//! networks typed, the explanation names the top one, and so does the stored verdict change
//! (its evidence and explanation, which the feed and the draft incident show).

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_is_explained_with_what_the_screens_say() {
    for target in testing::all().await {
        let name = target.name;
        let mut rig = Rig::new(&target, t0()).await;
        rig.calm(0, 90, 6).await;
        rig.said = Some("Something went wrong!!");
        let mut changed = None;
        for m in 90..96 {
            rig.reports(m, 150, "US").await;
            if rig.judge(m).await.verdict != Verdict::NoProblems {
                changed = Some(m);
                break;
            }
        }
        let m = changed.unwrap_or_else(|| panic!("{name}: the surge raised nothing"));
        let s = rig.judge(m).await;
        let top = s.breakdown.messages.first().expect("a message cluster");
        assert_eq!(
            (top.text.as_str(), top.share),
            ("Something went wrong!!", 1.0),
            "{name}"
        );
        assert!(
            s.explanation.contains("100% see “Something went wrong!!”"),
            "{name}: {}",
            s.explanation
        );
        let stored = rig.store.verdict_events("melodia", 0, 100).await.unwrap();
        let e = stored
            .iter()
            .find(|e| e.series == "all" && e.at_ms == rig.t0 + m * MINUTE)
            .expect("the change is stored");
        assert!(
            e.explanation.contains("see “Something went wrong!!”"),
            "{name}"
        );
        assert_eq!(
            e.evidence["breakdown"]["messages"][0]["text"], "Something went wrong!!",
            "{name}: {}",
            e.evidence
        );
    }
}

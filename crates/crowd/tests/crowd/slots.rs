//! Country slots are held by volume (integrity item 3).

use super::*;

/// Fifty countries, none of them the United States or the United Kingdom.
const FIFTY: [&str; 50] = [
    "AD", "AE", "AF", "AG", "AL", "AM", "AO", "AR", "AT", "AU", "AZ", "BA", "BB", "BD", "BE", "BF",
    "BG", "BH", "BI", "BJ", "BN", "BO", "BR", "BS", "BT", "BW", "BY", "BZ", "CA", "CD", "CF", "CG",
    "CH", "CI", "CL", "CM", "CN", "CO", "CR", "CU", "CV", "CY", "CZ", "DJ", "DK", "DM", "DO", "DZ",
    "EC", "EE",
];

/// Regression: slots went first come, first served and were never freed, so one report from
/// each of fifty countries kept every later country out for good, a real regional outage
/// included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_regional_surge_gets_the_slot_that_one_off_reports_took() {
    let target = testing::sqlite();
    let mut rig = Rig::new(&target, t0()).await;
    for c in FIFTY {
        rig.reports(0, 1, c).await;
    }
    rig.calm(0, 90, 6).await;
    // The United Kingdom, silent so far, suddenly sends 40 a minute.
    let mut seen = None;
    for k in 0..6 {
        let m = 90 + k;
        rig.reports(m, 6, "US").await;
        rig.reports(m, 40, "GB").await;
        let s = rig.judge(m).await;
        let hot = hot_countries(&s);
        if !hot.is_empty() {
            assert_eq!(hot, ["GB"], "only the United Kingdom: {s:?}");
            seen = Some(k);
            break;
        }
    }
    assert!(
        seen.is_some_and(|k| k <= 3),
        "regional surge seen at {seen:?}"
    );
    // The slots stay bounded, and the state of the series that lost its slot goes.
    downbeat_crowd::save_all(&rig.crowd).await.unwrap();
    let countries: Vec<String> = rig
        .store
        .detector_states("melodia")
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.series)
        .filter(|s| s.starts_with("country:"))
        .collect();
    assert_eq!(countries.len(), MAX_SERIES_PER_DIMENSION, "{countries:?}");
    assert!(countries.iter().any(|c| c == "country:GB"), "{countries:?}");
    assert!(countries.iter().any(|c| c == "country:US"), "{countries:?}");
}

/// A holder with an open verdict keeps its slot, even when it is usually the quietest, and a
/// newcomer whose last hour is not well above the holders' usual volume takes none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slots_change_hands_only_for_much_more_volume_and_never_mid_outage() {
    let target = testing::sqlite();
    let mut rig = Rig::new(&target, t0()).await;
    // Andorra (first in FIFTY) sends one report every five minutes, the others 2 a minute:
    // together they hold every slot.
    let minute = |andorra: u32, uk: u32| {
        let mut v: Vec<(&str, u32)> = FIFTY[1..].iter().map(|&c| (c, 2)).collect();
        v.push(("AD", andorra));
        v.push(("GB", uk));
        v
    };
    for m in 0..70 {
        rig.reports_from(m, &minute(u32::from(m % 5 == 0), 0)).await;
        rig.judge(m).await;
    }
    // Andorra has an outage; the United Kingdom, new, sends 5 a minute.
    let mut hot_from = None;
    for m in 70..85 {
        rig.reports_from(m, &minute(30, 5)).await;
        let s = rig.judge(m).await;
        let hot = hot_countries(&s).contains(&"AD");
        match hot_from {
            None if hot => hot_from = Some(m),
            Some(_) => assert!(hot, "Andorra lost its slot mid-outage at minute {m}: {s:?}"),
            None => {}
        }
    }
    assert!(
        hot_from.is_some_and(|m| m <= 73),
        "Andorra hot from {hot_from:?}"
    );
    downbeat_crowd::save_all(&rig.crowd).await.unwrap();
    let states = rig.store.detector_states("melodia").await.unwrap();
    assert!(
        !states.iter().any(|s| s.series == "country:GB"),
        "the United Kingdom took a slot from a country half as busy"
    );
    assert_eq!(
        states
            .iter()
            .filter(|s| s.series.starts_with("country:"))
            .count(),
        MAX_SERIES_PER_DIMENSION
    );
}

//! "Recent change" as a probable cause: an outage that begins shortly after a deploy, a
//! config change, a feature flag or an infrastructure change to the part that fails (or to
//! the whole service) most likely began with it. The draft's evidence names it first, for
//! operators: "login 2.3.0 was deployed at 08:09, 1 min before the onset; consider rolling
//! it back". Versions and links are operator data: nothing here reaches a public page.

use downbeat_domain::change::ChangeKind;
use downbeat_store::{ChangeRow, ChangeStore, StoreError};

/// How long before an onset a change counts as its probable cause.
pub const SUSPECT_WINDOW_MS: i64 = 30 * 60_000;
/// A change recorded this long after the first sign still counts: pipelines record a
/// deploy when it finishes, and a crowd notices within a minute or two.
const AFTER_ONSET_MS: i64 = 2 * 60_000;

/// A change that most likely began an episode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suspect {
    pub change: ChangeRow,
    /// Minutes from the change to the onset (negative when recorded just after it).
    pub before_onset_ms: i64,
}

/// The change most likely behind an episode that began at `onset_ms`, among the service's
/// changes in the [`SUSPECT_WINDOW_MS`] before it: one to an `involved` component (a failing
/// monitor's, the crowd's top problem) wins over one to the whole service, the later over
/// the earlier. A change to another component is not a suspect, unless nothing tells which
/// component is involved. When the trouble is in one `region`, a change limited to it ranks
/// first and one limited to another region is no suspect. Rollbacks are remedies, not
/// suspects.
pub async fn suspect(
    changes: &dyn ChangeStore,
    service: &str,
    onset_ms: i64,
    involved: &[String],
    region: Option<&str>,
) -> Result<Option<Suspect>, StoreError> {
    let rows = changes
        .service_changes(
            service,
            onset_ms - SUSPECT_WINDOW_MS,
            onset_ms + AFTER_ONSET_MS + 1,
            100,
        )
        .await?;
    Ok(pick(rows, onset_ms, involved, region))
}

fn pick(
    rows: Vec<ChangeRow>,
    onset_ms: i64,
    involved: &[String],
    region: Option<&str>,
) -> Option<Suspect> {
    // Rank: 2 for the involved component, 1 for the whole service (or any component when
    // nothing tells), 2 more for the troubled region; then the latest.
    rows.into_iter()
        .filter(|c| c.kind != ChangeKind::Rollback)
        .filter_map(|c| {
            let mut rank = match &c.component {
                Some(k) if involved.iter().any(|i| i == k) => 2,
                Some(_) if !involved.is_empty() => return None,
                _ => 1,
            };
            match (&c.region, region) {
                (Some(r), Some(t)) if r == t => rank += 2,
                (Some(_), Some(_)) => return None,
                _ => {}
            }
            Some((rank, c.at_ms, c))
        })
        .max_by_key(|(rank, at, c)| (*rank, *at, c.id))
        .map(|(_, _, change)| Suspect {
            before_onset_ms: onset_ms - change.at_ms,
            change,
        })
}

/// "login 2.3.0 was deployed at 08:09 UTC, 1 min before the onset; consider rolling it back."
pub fn sentence(s: &Suspect) -> String {
    let c = &s.change.change();
    let at = jiff::Timestamp::from_millisecond(s.change.at_ms)
        .map(|t| t.strftime("%H:%M UTC").to_string())
        .unwrap_or_default();
    let minutes = (s.before_onset_ms as f64 / 60_000.0).round() as i64;
    let when = match minutes {
        m if m > 0 => format!("{m} min before the onset"),
        0 => "as it began".to_owned(),
        m => format!("recorded {} min after the first signs", -m),
    };
    let region = c
        .region
        .as_ref()
        .map(|r| format!(" in {r}"))
        .unwrap_or_default();
    let title = c
        .title
        .as_ref()
        .filter(|_| c.component.is_some() || c.version.is_some())
        .map(|t| format!(" (“{t}”)"))
        .unwrap_or_default();
    let remedy = match c.kind {
        ChangeKind::FeatureFlag => "consider turning the flag back",
        _ => "consider rolling it back",
    };
    format!(
        "{} was {}{region} at {at}{title}, {when}; {remedy}.",
        c.subject(),
        c.kind.done()
    )
}

/// "login rolled back (2.2.9) at 09:20 UTC; the signals recovered 4 min later."
pub fn recovery_sentence(rollback: &ChangeRow, recovered_ms: i64) -> String {
    let c = rollback.change();
    let at = jiff::Timestamp::from_millisecond(c.at_ms)
        .map(|t| t.strftime("%H:%M UTC").to_string())
        .unwrap_or_default();
    let what = c
        .component
        .as_ref()
        .map_or_else(|| "the service".to_owned(), |k| k.to_string());
    let version = c
        .version
        .as_ref()
        .map(|v| format!(" ({v})"))
        .unwrap_or_default();
    let minutes = ((recovered_ms - c.at_ms) as f64 / 60_000.0)
        .round()
        .max(0.0) as i64;
    format!("{what} rolled back{version} at {at}; the signals recovered {minutes} min later.")
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONSET: i64 = 1_796_631_000_000; // 2026-12-07T08:10:00Z

    fn change(
        id: i64,
        kind: ChangeKind,
        component: Option<&str>,
        minutes_before: i64,
    ) -> ChangeRow {
        ChangeRow {
            id,
            service: "melodia".into(),
            kind,
            component: component.map(Into::into),
            version: Some(format!("2.3.{id}")),
            title: None,
            link: None,
            region: None,
            at_ms: ONSET - minutes_before * 60_000,
            recorded_ms: ONSET,
            recorded_by: "ci".into(),
        }
    }

    #[test]
    fn the_involved_component_beats_the_service_and_the_later_beats_the_earlier() {
        let rows = vec![
            change(1, ChangeKind::Deploy, None, 3),
            change(2, ChangeKind::Deploy, Some("login"), 20),
            change(3, ChangeKind::Deploy, Some("login"), 1),
            change(4, ChangeKind::Config, Some("playback"), 0),
            change(5, ChangeKind::Rollback, Some("login"), 0),
        ];
        let s = pick(rows.clone(), ONSET, &["login".into()], None).unwrap();
        assert_eq!((s.change.id, s.before_onset_ms), (3, 60_000));
        assert_eq!(
            sentence(&s),
            "login 2.3.3 was deployed at 08:09 UTC, 1 min before the onset; consider rolling it back."
        );
        // Nothing involved by name: the service-wide change, not another component's.
        let s = pick(rows.clone(), ONSET, &["search".into()], None).unwrap();
        assert_eq!(s.change.id, 1);
        // Nothing tells which component: the latest change of any.
        assert_eq!(pick(rows, ONSET, &[], None).unwrap().change.id, 4);
        // Only a rollback: no suspect.
        assert_eq!(
            pick(
                vec![change(6, ChangeKind::Rollback, None, 2)],
                ONSET,
                &[],
                None
            ),
            None
        );
    }

    #[test]
    fn a_change_limited_to_the_troubled_region_comes_first() {
        let mut there = change(1, ChangeKind::Config, None, 10);
        there.region = Some("ap-southeast".into());
        let mut elsewhere = change(2, ChangeKind::Deploy, None, 1);
        elsewhere.region = Some("eu-west".into());
        let everywhere = change(3, ChangeKind::Deploy, None, 5);
        let rows = vec![there, elsewhere, everywhere];
        let s = pick(rows.clone(), ONSET, &[], Some("ap-southeast")).unwrap();
        assert_eq!(s.change.id, 1);
        assert!(
            sentence(&s).contains("reconfigured in ap-southeast at 08:00 UTC"),
            "{}",
            sentence(&s)
        );
        // Without a troubled region, the latest.
        assert_eq!(pick(rows, ONSET, &[], None).unwrap().change.id, 2);
    }

    #[test]
    fn a_rollback_before_recovery_is_told() {
        let r = change(8, ChangeKind::Rollback, Some("login"), -70);
        assert_eq!(
            recovery_sentence(&r, ONSET + 74 * 60_000),
            "login rolled back (2.3.8) at 09:20 UTC; the signals recovered 4 min later."
        );
    }

    #[test]
    fn the_sentence_says_what_where_and_when() {
        let mut c = change(7, ChangeKind::FeatureFlag, Some("playback"), -1);
        c.region = Some("ap-southeast".into());
        c.title = Some("new buffer size".into());
        let s = Suspect {
            before_onset_ms: -60_000,
            change: c,
        };
        assert_eq!(
            sentence(&s),
            "playback 2.3.7 was flagged in ap-southeast at 08:11 UTC (“new buffer size”), recorded 1 min after the first signs; consider turning the flag back."
        );
    }
}

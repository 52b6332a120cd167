//! The demo's stories. Each is the same morning at Melodia with a different cause: a crowd
//! scenario for the simulated listeners (the `downbeat replay` format), the faults switched
//! on Melodia and when, and what the on-call operator says as it unfolds.
//!
//! Times are minutes after the onset. The demo's day starts at 07:40 UTC; the onset is at
//! 08:10. The crowd scenario begins seven days earlier, so the detector is seeded with a
//! week of ordinary mornings and evenings before the story starts.

use crate::faults::Fault;
use downbeat_replay::Scenario as Crowd;
use jiff::Timestamp;

/// Days of history before the story's day (seeded into the crowd baseline).
pub const HISTORY_DAYS: u32 = 7;
/// The story starts at this minute of its day (07:40)...
pub const LIVE_FROM_MIN: u32 = 7 * 60 + 40;
/// ...and the trouble at this one (08:10).
pub const ONSET_MIN: u32 = 8 * 60 + 10;
/// The crowd scenario lasts this long: after the story, an ordinary month goes on until
/// ctrl-c.
const DAYS: u32 = 40;

/// A switch flipped on Melodia, `at` minutes after the onset.
#[derive(Debug, Clone, Copy)]
pub struct Step {
    pub at: u32,
    pub fault: Fault,
    pub on: bool,
    /// What happened, for the narration.
    pub what: &'static str,
}

/// A change the deployment pipeline records (`POST …/changes`), `at` minutes after the onset
/// (negative: before it).
#[derive(Debug, Clone, Copy)]
pub struct Deploy {
    pub at: i32,
    /// deploy, config, feature_flag, infrastructure or rollback.
    pub kind: &'static str,
    pub component: &'static str,
    pub version: &'static str,
    pub title: &'static str,
}

/// A public update the operator posts `at` minutes after the onset (once the incident is
/// public).
#[derive(Debug, Clone, Copy)]
pub struct Say {
    pub at: u32,
    /// investigating, identified or monitoring.
    pub status: &'static str,
    pub message: &'static str,
}

#[derive(Debug, Clone, Copy)]
pub struct Story {
    pub name: &'static str,
    pub title: &'static str,
    pub steps: &'static [Step],
    /// What the pipeline records: the change behind the trouble, its rollback.
    pub changes: &'static [Deploy],
    /// Minutes after the onset at which the operator acknowledges (publishes the draft).
    pub acknowledge_at: u32,
    pub acknowledgement: &'static str,
    pub updates: &'static [Say],
    pub resolution: &'static str,
    pub postmortem: &'static str,
    /// The `[[outage]]` table of the crowd scenario (times relative to the onset are filled
    /// in: `{ONSET}` is replaced by the onset's offset).
    outage: &'static str,
}

const ACK: &str = "Something's not quite right. We're aware of issues with logging in and \
    playing music and are working on a fix.";

pub const STORIES: [Story; 4] = [
    Story {
        name: "morning-outage",
        title: "DESIGN.md's morning outage: the login API fails its connection handshake, \
            then is overloaded as everyone comes back",
        steps: &[
            Step {
                at: 0,
                fault: Fault::Handshake,
                on: true,
                what: "a bad deployment: Melodia's login API refuses TLS handshakes",
            },
            Step {
                at: 70,
                fault: Fault::Handshake,
                on: false,
                what: "the deployment is rolled back: handshakes work again",
            },
            Step {
                at: 70,
                fault: Fault::Overload,
                on: true,
                what: "millions log in again at once: the API is overloaded (503s, slow answers)",
            },
            Step {
                at: 130,
                fault: Fault::Overload,
                on: false,
                what: "capacity added: the API answers normally",
            },
        ],
        changes: &[
            Deploy {
                at: -1,
                kind: "deploy",
                component: "login",
                version: "2.3.0",
                title: "login-frontend 2.3.0: new TLS configuration",
            },
            Deploy {
                at: 70,
                kind: "rollback",
                component: "login",
                version: "2.2.9",
                title: "login-frontend back to 2.2.9",
            },
        ],
        acknowledge_at: 20,
        acknowledgement: ACK,
        updates: &[
            Say {
                at: 45,
                status: "identified",
                message: "Our login front end was deployed with a broken configuration and \
                    refuses connection handshakes. We are rolling it back.",
            },
            Say {
                at: 75,
                status: "identified",
                message: "The rollback is done. As everyone logs in again our API is \
                    overloaded; we are adding capacity and restoring service in phases.",
            },
            Say {
                at: 135,
                status: "monitoring",
                message: "A fix has been implemented and we are monitoring the results.",
            },
            Say {
                at: 240,
                status: "monitoring",
                message: "Everything's looking much better now.",
            },
        ],
        resolution: "This incident has been resolved. Logging in, playback and playlists \
            work normally again. A post-mortem will follow.",
        postmortem: "## What happened\n\nA configuration change to the login service's TLS \
            front end made it refuse every connection handshake. Apps could not log in, \
            then could not load playlists or play music.\n\n## Recovery\n\nThe change was \
            rolled back after 70 minutes; the wave of reconnections then overloaded the API \
            for another hour until capacity was added.\n\n## What we change\n\n- Canary the \
            TLS front end's configuration in one region first.\n- Admit reconnections \
            gradually after an outage.\n",
        outage: r#"
[[outage]]
name = "login handshake failure"
onset = "{ONSET}"
ramp = "30m"
ramp_shape = "fast-start"
peak_per_minute = 240
plateau = "40m"
[[outage.recovery_phase]]
level = 0.6
over = "30m"
hold = "30m"
[[outage.recovery_phase]]
level = 0.3
over = "30m"
hold = "30m"
[[outage.recovery_phase]]
level = 0.1
over = "30m"
hold = "20m"
[[outage.recovery_phase]]
level = 0
over = "20m"
[outage.mix]
problem = { login = 45, playback = 25, playlists = 15, crash = 10, connection = 5 }
platform = { ios = 35, android = 30, desktop = 25, web = 10 }
country = { US = 28, GB = 18, DE = 8, FR = 7, NL = 4, SE = 4, ES = 4, IT = 4, PL = 3, IE = 2, CA = 4, JP = 5, IN = 5, SG = 2, KR = 2 }
message = { "Something went wrong" = 5, "something went wrong (error 4)" = 1, "Can't log in" = 4, "Login failed. Error code 1001" = 1 }
message_share = 0.4
"#,
    },
    Story {
        name: "expired-certificate",
        title: "Melodia's API certificate expires: every app refuses to connect",
        steps: &[
            Step {
                at: 0,
                fault: Fault::ExpiredCertificate,
                on: true,
                what: "nobody renewed it: the API now presents a certificate that expired two \
                    days ago",
            },
            Step {
                at: 95,
                fault: Fault::ExpiredCertificate,
                on: false,
                what: "a renewed certificate is installed",
            },
        ],
        changes: &[],
        acknowledge_at: 20,
        acknowledgement: ACK,
        updates: &[
            Say {
                at: 50,
                status: "identified",
                message: "The TLS certificate of our API expired. We are issuing and \
                    installing a new one.",
            },
            Say {
                at: 100,
                status: "monitoring",
                message: "A renewed certificate is in place; apps reconnect as they retry.",
            },
        ],
        resolution: "This incident has been resolved. Apps connect normally again.",
        postmortem: "## What happened\n\nThe certificate of `api.melodia.test` expired; \
            its renewal reminder went to a former employee.\n\n## What we change\n\n- \
            Downbeat's certificate monitor now warns 21 days ahead.\n",
        outage: r#"
[[outage]]
name = "expired certificate"
onset = "{ONSET}"
ramp = "20m"
ramp_shape = "fast-start"
peak_per_minute = 160
plateau = "75m"
[[outage.recovery_phase]]
level = 0.2
over = "20m"
hold = "20m"
[[outage.recovery_phase]]
level = 0
over = "20m"
[outage.mix]
problem = { connection = 40, login = 35, playback = 15, crash = 10 }
platform = { ios = 35, android = 30, desktop = 25, web = 10 }
"#,
    },
    Story {
        name: "dns-failure",
        title: "Melodia's DNS provider fails: no app can find the service",
        steps: &[
            Step {
                at: 0,
                fault: Fault::Dns,
                on: true,
                what: "Melodia's DNS servers start answering SERVFAIL for every name",
            },
            Step {
                at: 60,
                fault: Fault::Dns,
                on: false,
                what: "the DNS provider recovers",
            },
        ],
        changes: &[],
        acknowledge_at: 15,
        acknowledgement: ACK,
        updates: &[
            Say {
                at: 35,
                status: "identified",
                message: "Our DNS provider is failing; we are moving our zone to a secondary \
                    provider.",
            },
            Say {
                at: 65,
                status: "monitoring",
                message: "Name resolution works again; cached failures clear over the next \
                    minutes.",
            },
        ],
        resolution: "This incident has been resolved.",
        postmortem: "## What happened\n\nOur only DNS provider failed for an hour.\n\n## \
            What we change\n\n- A second DNS provider serves the zone.\n",
        outage: r#"
[[outage]]
name = "dns failure"
onset = "{ONSET}"
ramp = "15m"
ramp_shape = "fast-start"
peak_per_minute = 200
plateau = "45m"
[[outage.recovery_phase]]
level = 0.2
over = "15m"
hold = "15m"
[[outage.recovery_phase]]
level = 0
over = "20m"
[outage.mix]
problem = { connection = 55, login = 20, playback = 15, crash = 10 }
"#,
    },
    Story {
        name: "regional-cdn",
        title: "The CDN edge serving Asia-Pacific fails: music stops there, only there",
        steps: &[
            Step {
                at: 0,
                fault: Fault::Cdn(2),
                on: true,
                what: "the CDN edge serving ap-southeast loses its origin and answers 502",
            },
            Step {
                at: 120,
                fault: Fault::Cdn(2),
                on: false,
                what: "the CDN reroutes ap-southeast to a healthy edge",
            },
        ],
        changes: &[],
        acknowledge_at: 20,
        acknowledgement: "Listeners in Asia-Pacific cannot play music. We're aware and are \
            working with our CDN.",
        updates: &[
            Say {
                at: 50,
                status: "identified",
                message: "One of our CDN's edges in Asia-Pacific cannot reach our origin. The \
                    CDN is rerouting traffic.",
            },
            Say {
                at: 125,
                status: "monitoring",
                message: "Traffic is rerouted; playback works again in Asia-Pacific.",
            },
        ],
        resolution: "This incident has been resolved.",
        postmortem: "## What happened\n\nA CDN edge serving Asia-Pacific lost its route to \
            our origin for two hours.\n\n## What we change\n\n- Automatic failover between \
            edges.\n",
        outage: r#"
[[outage]]
name = "regional cdn"
onset = "{ONSET}"
ramp = "20m"
ramp_shape = "fast-start"
peak_per_minute = 120
plateau = "100m"
[[outage.recovery_phase]]
level = 0
over = "30m"
[outage.mix]
problem = { playback = 70, connection = 15, crash = 10, other = 5 }
country = { JP = 30, IN = 25, AU = 15, SG = 12, KR = 10, ID = 8 }
"#,
    },
];

pub fn names() -> impl Iterator<Item = &'static str> {
    STORIES.iter().map(|s| s.name)
}

pub fn find(name: &str) -> Option<&'static Story> {
    STORIES.iter().find(|s| s.name == name)
}

/// Midnight UTC of the story's day: today, on the real calendar.
pub fn story_day() -> Timestamp {
    let now = Timestamp::now();
    let secs = now.as_second().div_euclid(86_400) * 86_400;
    Timestamp::from_second(secs).unwrap_or(now)
}

impl Story {
    /// The crowd scenario, starting [`HISTORY_DAYS`] before `day` (a UTC midnight).
    pub fn crowd(&self, day: Timestamp) -> Result<Crowd, downbeat_replay::ScenarioError> {
        let start = Timestamp::from_second(day.as_second() - i64::from(HISTORY_DAYS) * 86_400)
            .unwrap_or(day);
        let onset = HISTORY_DAYS * 1440 + ONSET_MIN;
        let text = format!(
            r#"name = "demo-{name}"
description = "downbeat demo: {name}"
seed = 20261124
start = "{start}"
duration = "{DAYS}d"
utc_offset = "+00:00"
service = "melodia"

[baseline]
per_minute = 8
daily_amplitude = 0.7
trough_hour = 4
peak_hour = 20
weekly = {{ mon = 0.95, tue = 0.95, wed = 0.97, thu = 1.0, fri = 1.05, sat = 1.1, sun = 1.0 }}

[noise]
overdispersion = 0.01

[mix]
problem = {{ playback = 30, connection = 20, login = 15, crash = 10, search = 10, playlists = 10, other = 5 }}
platform = {{ ios = 32, android = 30, desktop = 25, web = 13 }}
country = {{ US = 30, GB = 12, DE = 8, FR = 6, NL = 3, SE = 3, ES = 4, IT = 4, PL = 3, IE = 2, CA = 4, BR = 6, MX = 3, JP = 5, IN = 4, AU = 3 }}
city_share = 0.6

[mix.city]
GB = {{ London = 45, Manchester = 15, Glasgow = 10, Birmingham = 10, Leeds = 8, Bristol = 6, Edinburgh = 6 }}
US = {{ "New York" = 20, "Los Angeles" = 14, Chicago = 10, Houston = 7, Seattle = 6, Atlanta = 6, Boston = 5 }}

[social]
per_report = 0.2
per_outage_report = 1.5
{outage}"#,
            name = self.name,
            outage = self.outage.replace("{ONSET}", &format!("{onset}m")),
        );
        Crowd::parse(&text, &format!("demo scenario {}", self.name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_story_has_a_valid_crowd_and_ends_with_every_fault_off() {
        let day = story_day();
        for s in &STORIES {
            let crowd = s.crowd(day).unwrap_or_else(|e| panic!("{}: {e}", s.name));
            assert_eq!(crowd.start().as_second() % 86_400, 0, "{}", s.name);
            let mut on: Vec<Fault> = Vec::new();
            for step in s.steps {
                if step.on {
                    on.push(step.fault);
                } else {
                    on.retain(|f| *f != step.fault);
                }
            }
            assert!(on.is_empty(), "{} leaves {on:?} broken", s.name);
            assert!(
                s.updates.windows(2).all(|w| w[0].at <= w[1].at),
                "{}",
                s.name
            );
            assert!(s.acknowledge_at < s.updates[0].at, "{}", s.name);
        }
    }
}

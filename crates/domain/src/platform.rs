//! The client platform a report comes from.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Where the listener uses the service. The mobile apps are split because a bad release
/// usually hits one store's build, while a backend failure hits all platforms at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Ios,
    Android,
    Desktop,
    Web,
    Other,
}

impl Platform {
    pub const ALL: [Platform; 5] = [
        Platform::Ios,
        Platform::Android,
        Platform::Desktop,
        Platform::Web,
        Platform::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Ios => "ios",
            Platform::Android => "android",
            Platform::Desktop => "desktop",
            Platform::Web => "web",
            Platform::Other => "other",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Platform::Ios => "iOS app",
            Platform::Android => "Android app",
            Platform::Desktop => "Desktop app",
            Platform::Web => "Web player",
            Platform::Other => "Other",
        }
    }

    /// Mobile apps, as grouped in explanations ("65% mobile app").
    pub fn is_mobile(self) -> bool {
        matches!(self, Platform::Ios | Platform::Android)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown platform {0:?}; expected one of ios, android, desktop, web, other")]
pub struct UnknownPlatform(pub String);

impl FromStr for Platform {
    type Err = UnknownPlatform;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Platform::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownPlatform(s.chars().take(40).collect()))
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_platform() {
        for p in Platform::ALL {
            assert_eq!(p.as_str().parse::<Platform>(), Ok(p));
        }
        assert!("toaster".parse::<Platform>().is_err());
        assert!("IOS".parse::<Platform>().is_err());
    }
}

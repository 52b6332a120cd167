//! The scenarios shipped in `scenarios/`, embedded so names work without the repository.

/// (name, TOML text), in listing order.
pub const SHIPPED: &[(&str, &str)] = &[
    (
        "design-outage",
        include_str!("../../../scenarios/design-outage.toml"),
    ),
    (
        "regional-slow-ramp",
        include_str!("../../../scenarios/regional-slow-ramp.toml"),
    ),
    (
        "normal-30-days",
        include_str!("../../../scenarios/normal-30-days.toml"),
    ),
    (
        "network-flood",
        include_str!("../../../scenarios/network-flood.toml"),
    ),
    (
        "expired-certificate",
        include_str!("../../../scenarios/expired-certificate.toml"),
    ),
    (
        "dns-failure",
        include_str!("../../../scenarios/dns-failure.toml"),
    ),
    (
        "regional-cdn",
        include_str!("../../../scenarios/regional-cdn.toml"),
    ),
];

/// Names of the shipped scenarios.
pub fn names() -> impl Iterator<Item = &'static str> {
    SHIPPED.iter().map(|(n, _)| *n)
}

/// The text of a shipped scenario.
pub fn text(name: &str) -> Option<&'static str> {
    SHIPPED.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// Every shipped scenario, parsed. They are tested to parse, so this cannot fail in a build
/// that passed its tests.
pub fn all() -> Vec<crate::Scenario> {
    SHIPPED
        .iter()
        .map(|(n, t)| crate::Scenario::parse(t, n).expect("shipped scenarios parse"))
        .collect()
}

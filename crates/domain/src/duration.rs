//! Durations in words for people: one formatter for every page, message and narration, so
//! an incident's time to detect reads the same in the admin area, on the status page and in
//! the demo.

/// A whole number of seconds in its two largest units, leaving out a zero second unit:
/// "42 s", "4 min 12 s", "20 min", "3 h 5 min", "4 h", "2 d 4 h", "2 d". Negative durations
/// (clock skew between nodes) read as "0 s".
pub fn words(secs: i64) -> String {
    const UNITS: [(i64, &str); 4] = [(86_400, "d"), (3_600, "h"), (60, "min"), (1, "s")];
    let s = secs.max(0);
    if s == 0 {
        return "0 s".into();
    }
    let i = UNITS
        .iter()
        .position(|(size, _)| s >= *size)
        .expect("s >= 1");
    let (big, big_name) = UNITS[i];
    let mut out = format!("{} {big_name}", s / big);
    if let Some(&(small, small_name)) = UNITS.get(i + 1) {
        let rest = (s % big) / small;
        if rest > 0 {
            out.push_str(&format!(" {rest} {small_name}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::words;

    #[test]
    fn durations_read_naturally() {
        for (secs, want) in [
            (0, "0 s"),
            (-5, "0 s"),
            (42, "42 s"),
            (60, "1 min"),
            (180, "3 min"),
            (252, "4 min 12 s"),
            (3_600, "1 h"),
            (7_200, "2 h"),
            (3 * 3_600 + 300, "3 h 5 min"),
            (4 * 3_600 + 20 * 60 + 59, "4 h 20 min"),
            (2 * 86_400, "2 d"),
            (2 * 86_400 + 4 * 3_600, "2 d 4 h"),
        ] {
            assert_eq!(words(secs), want, "{secs} s");
        }
    }
}

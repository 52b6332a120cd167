//! Ids made from names: lowercase ASCII letters and digits joined by `-`, at most 64
//! characters, unique within their kind (a clash gets `-2`, `-3`…).

use std::collections::HashSet;

use downbeat_domain::slug::MAX_SLUG_LEN;

/// `"API / Health"` → `"api-health"`; `fallback` when nothing is left.
pub fn slugify(name: &str, fallback: &str) -> String {
    let mut out = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    let mut out: String = out
        .trim_end_matches('-')
        .chars()
        .take(MAX_SLUG_LEN)
        .collect();
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() {
        fallback.to_owned()
    } else {
        out
    }
}

/// The ids taken so far in one namespace.
#[derive(Debug, Default, Clone)]
pub struct Slugs {
    taken: HashSet<String>,
}

impl Slugs {
    /// A fresh id from `name`: its slug, or the slug with `-2`, `-3`… when taken.
    pub fn allocate(&mut self, name: &str, fallback: &str) -> String {
        let base = slugify(name, fallback);
        let mut candidate = base.clone();
        let mut n = 2;
        while self.taken.contains(&candidate) {
            let suffix = format!("-{n}");
            let keep = MAX_SLUG_LEN.saturating_sub(suffix.len());
            let stem: String = base.chars().take(keep).collect();
            candidate = format!("{}{suffix}", stem.trim_end_matches('-'));
            n += 1;
        }
        self.taken.insert(candidate.clone());
        candidate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_valid_unique_slugs() {
        let mut s = Slugs::default();
        assert_eq!(s.allocate("API / Health", "m"), "api-health");
        assert_eq!(s.allocate("api health", "m"), "api-health-2");
        assert_eq!(s.allocate("API-Health!", "m"), "api-health-3");
        assert_eq!(s.allocate("Ünïcode ☃", "m"), "n-code");
        assert_eq!(s.allocate("☃", "monitor"), "monitor");
        let long = "x".repeat(100);
        let a = s.allocate(&long, "m");
        let b = s.allocate(&long, "m");
        assert_eq!(a.len(), MAX_SLUG_LEN);
        assert!(b.ends_with("-2") && b.len() <= MAX_SLUG_LEN, "{b}");
        for id in [a, b] {
            downbeat_domain::Slug::parse(&id).expect("valid slug");
        }
    }
}

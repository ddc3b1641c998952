//! Traceroute paths as the agent writes them (`traceroute.path`): hops in TTL order,
//! space-separated; `*` for a hop that never answered; several addresses of one hop
//! (ECMP, per-packet balancing) joined by `,`. Pure functions, no I/O.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// One hop: the addresses that answered at its TTL (empty: `*`, nothing answered).
pub type Hop = BTreeSet<String>;

/// Parses a path string into its hops (an empty string is a path of no hops).
pub fn parse(path: &str) -> Vec<Hop> {
    path.split_whitespace()
        .map(|hop| {
            if hop == "*" {
                Hop::new()
            } else {
                hop.split(',')
                    .filter(|a| !a.is_empty() && *a != "*")
                    .map(str::to_owned)
                    .collect()
            }
        })
        .collect()
}

/// What changed at one TTL between two paths.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HopChange {
    /// The TTL (position in the path + the first TTL probed).
    pub ttl: u32,
    /// The hop's addresses in the old path: `[]` for `*`; absent when the old path did
    /// not reach this TTL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Vec<String>>,
    /// The hop's addresses in the new path: `[]` for `*`; absent when the new path does
    /// not reach this TTL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Vec<String>>,
    /// Addresses at this TTL in the old path and not in the new one.
    pub left: Vec<String>,
    /// Addresses at this TTL in the new path and not in the old one.
    pub appeared: Vec<String>,
}

/// The hops that differ between `old` and `new`, TTL by TTL (`first_ttl` is the TTL of
/// each path's first hop). A hop that went silent (`*`) or started answering counts as
/// changed; an ECMP hop whose address set changed lists exactly the addresses that left
/// and appeared; a longer or shorter path has the extra TTLs with `before` or `after`
/// absent. Equal paths give no changes.
pub fn diff(old: &str, new: &str, first_ttl: u32) -> Vec<HopChange> {
    let (old, new) = (parse(old), parse(new));
    let len = old.len().max(new.len());
    let mut out = Vec::new();
    for i in 0..len {
        let (b, a) = (old.get(i), new.get(i));
        if b == a {
            continue;
        }
        let empty = Hop::new();
        let (bs, as_) = (b.unwrap_or(&empty), a.unwrap_or(&empty));
        out.push(HopChange {
            ttl: first_ttl + i as u32,
            before: b.map(|h| h.iter().cloned().collect()),
            after: a.map(|h| h.iter().cloned().collect()),
            left: bs.difference(as_).cloned().collect(),
            appeared: as_.difference(bs).cloned().collect(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn parses_stars_and_ecmp_hops() {
        let hops = parse("10.0.0.1 * 10.0.1.1,10.0.2.1 10.0.3.1");
        assert_eq!(hops.len(), 4);
        assert!(hops[1].is_empty());
        assert_eq!(hops[2].iter().collect::<Vec<_>>(), ["10.0.1.1", "10.0.2.1"]);
        assert!(parse("").is_empty());
        assert!(parse("  ").is_empty());
    }

    #[test]
    fn equal_paths_have_no_diff() {
        assert!(diff("a b * c,d", "a b * c,d", 1).is_empty());
        // The order of an ECMP hop's addresses does not matter.
        assert!(diff("a d,c", "a c,d", 1).is_empty());
    }

    #[test]
    fn a_swapped_router_is_one_left_and_one_appeared() {
        let d = diff(
            "10.0.0.1 10.0.1.1 10.0.9.9",
            "10.0.0.1 10.0.2.1 10.0.9.9",
            1,
        );
        assert_eq!(
            d,
            vec![HopChange {
                ttl: 2,
                before: Some(v(&["10.0.1.1"])),
                after: Some(v(&["10.0.2.1"])),
                left: v(&["10.0.1.1"]),
                appeared: v(&["10.0.2.1"]),
            }]
        );
    }

    #[test]
    fn star_hops_going_silent_and_answering() {
        let d = diff("a b c", "a * c", 1);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].ttl, 2);
        assert_eq!(d[0].after, Some(vec![]));
        assert_eq!(d[0].left, v(&["b"]));
        assert!(d[0].appeared.is_empty());

        let d = diff("a * c", "a b c", 1);
        assert_eq!(d[0].before, Some(vec![]));
        assert!(d[0].left.is_empty());
        assert_eq!(d[0].appeared, v(&["b"]));
    }

    #[test]
    fn ecmp_hops_list_only_the_addresses_that_moved() {
        let d = diff("a b,c d", "a c,e d", 1);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].before, Some(v(&["b", "c"])));
        assert_eq!(d[0].after, Some(v(&["c", "e"])));
        assert_eq!(d[0].left, v(&["b"]));
        assert_eq!(d[0].appeared, v(&["e"]));
    }

    #[test]
    fn longer_and_shorter_paths() {
        let d = diff("a b", "a b c d", 1);
        assert_eq!(d.len(), 2);
        assert_eq!((d[0].ttl, d[1].ttl), (3, 4));
        assert_eq!(d[0].before, None);
        assert_eq!(d[0].after, Some(v(&["c"])));
        assert_eq!(d[1].appeared, v(&["d"]));

        let d = diff("a b * d", "a x", 1);
        assert_eq!(d.len(), 3);
        assert_eq!(d[0].ttl, 2);
        assert_eq!(d[1].ttl, 3);
        assert_eq!(d[1].before, Some(vec![]));
        assert_eq!(d[1].after, None);
        assert!(d[1].left.is_empty() && d[1].appeared.is_empty());
        assert_eq!(d[2].left, v(&["d"]));
    }

    #[test]
    fn ttls_start_at_the_first_ttl_probed() {
        let d = diff("a b", "a c", 3);
        assert_eq!(d[0].ttl, 4);
    }

    #[test]
    fn serialises_absent_sides_by_leaving_them_out() {
        let d = diff("a", "a b", 1);
        let j = serde_json::to_value(&d).unwrap();
        assert_eq!(
            j,
            serde_json::json!([{"ttl": 2, "after": ["b"], "left": [], "appeared": ["b"]}])
        );
    }
}

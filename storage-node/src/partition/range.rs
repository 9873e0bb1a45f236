//! Range reads (Query, Scan) at one replica, sans-IO: which stored keys a
//! [`RangeRead`](wire::forward::RangeRead) covers on the partition that serves it, and how a
//! page fills up and ends.
//!
//! The router sends a range read to the partition that owns its lower bound. That partition
//! reads only the keys it owns: an ascending read whose upper bound lies past the partition's
//! end is clipped there, and the page ends with [`PageEnd::Boundary`] naming the first key of
//! the next partition, where the router reads on. A descending read must lie within one
//! partition (Query reads one item collection, and a collection never spans partitions:
//! partitions split by hash); one that does not is clipped to the partition and ends `Done`,
//! and the router never sends one.
//!
//! Pages are bounded by item count and by the stored bytes read, the item that reaches the
//! byte limit included (DynamoDB's 1 MB page is measured before filtering, so the partition
//! counts every item it reads). The shell drives a B-tree cursor over [`Plan`]'s bounds and
//! feeds values into a [`PageBuilder`]; the test backend does the same over a `BTreeMap`.

use std::ops::Bound;

use wire::forward::{PageEnd, RangeRead};

use crate::engine::KeyRange;

/// The bounds to read on the serving partition, in the read's direction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub lower: Bound<Vec<u8>>,
    pub upper: Bound<Vec<u8>>,
    pub reverse: bool,
    /// Where the rest of an ascending read continues when the partition ends inside it.
    pub boundary: Option<Vec<u8>>,
}

impl Plan {
    /// Whether `key` lies within the planned bounds (the test backend filters with it).
    pub fn contains(&self, key: &[u8]) -> bool {
        let above = match &self.lower {
            Bound::Included(l) => key >= &l[..],
            Bound::Excluded(l) => key > &l[..],
            Bound::Unbounded => true,
        };
        let below = match &self.upper {
            Bound::Included(u) => key <= &u[..],
            Bound::Excluded(u) => key < &u[..],
            Bound::Unbounded => true,
        };
        above && below
    }
}

/// Clips `read` to `owned`, the serving partition's keys `[start, end)`. The caller has
/// checked that the partition owns `read.lower`.
pub fn plan(read: &RangeRead, owned: &KeyRange) -> Plan {
    debug_assert!(
        read.lower >= owned.start,
        "a range read served by a partition that does not own its lower bound"
    );
    let lower = if read.lower_inclusive {
        Bound::Included(read.lower.clone())
    } else {
        Bound::Excluded(read.lower.clone())
    };
    // The upper bound reaches the partition's end: `owned.end` itself is not owned.
    let past_end = owned.end < read.upper || (owned.end == read.upper && read.upper_inclusive);
    if past_end {
        return Plan {
            lower,
            upper: Bound::Excluded(owned.end.clone()),
            reverse: read.reverse,
            boundary: (!read.reverse).then(|| owned.end.clone()),
        };
    }
    let upper = if read.upper_inclusive {
        Bound::Included(read.upper.clone())
    } else {
        Bound::Excluded(read.upper.clone())
    };
    Plan {
        lower,
        upper,
        reverse: read.reverse,
        boundary: None,
    }
}

/// Collects one page of stored item images.
#[derive(Debug)]
pub struct PageBuilder {
    items: Vec<Vec<u8>>,
    bytes: u64,
    items_max: usize,
    bytes_max: u64,
    full: bool,
}

impl PageBuilder {
    pub fn new(read: &RangeRead) -> PageBuilder {
        assert!(read.items_max > 0 && read.bytes_max > 0, "validated limits");
        PageBuilder {
            items: Vec::new(),
            bytes: 0,
            items_max: read.items_max as usize,
            bytes_max: u64::from(read.bytes_max),
            full: false,
        }
    }

    /// Adds the next stored image read; `true` once the page is full (read no further).
    pub fn push(&mut self, value: &[u8]) -> bool {
        assert!(!self.full, "pushed into a full page");
        self.items.push(value.to_vec());
        self.bytes += value.len() as u64;
        self.full = self.items.len() >= self.items_max || self.bytes >= self.bytes_max;
        self.full
    }

    /// The page, once the cursor stopped: full ([`PageEnd::Limit`]), at the partition's end
    /// inside the range (`plan.boundary`), or at the range's end.
    pub fn finish(self, plan: &Plan) -> (Vec<Vec<u8>>, PageEnd) {
        let end = if self.full {
            PageEnd::Limit
        } else if let Some(b) = &plan.boundary {
            PageEnd::Boundary(b.clone())
        } else {
            PageEnd::Done
        };
        (self.items, end)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::rng::{Rng, test_seeds};

    fn read(lower: &[u8], li: bool, upper: &[u8], ui: bool, reverse: bool) -> RangeRead {
        RangeRead {
            lower: lower.to_vec(),
            lower_inclusive: li,
            upper: upper.to_vec(),
            upper_inclusive: ui,
            reverse,
            consistent: true,
            items_max: 1000,
            bytes_max: wire::forward::PAGE_BYTES_MAX,
        }
    }

    fn owned(start: &[u8], end: &[u8]) -> KeyRange {
        KeyRange {
            start: start.to_vec(),
            end: end.to_vec(),
        }
    }

    #[test]
    fn an_upper_bound_past_the_partition_is_clipped_with_a_boundary() {
        let p = plan(&read(b"b", true, b"z", false, false), &owned(b"a", b"m"));
        assert_eq!(p.upper, Bound::Excluded(b"m".to_vec()));
        assert_eq!(p.boundary.as_deref(), Some(&b"m"[..]));
        // Up to the end, exclusive: nothing past the partition.
        let p = plan(&read(b"b", true, b"m", false, false), &owned(b"a", b"m"));
        assert_eq!(p.boundary, None);
        // Inclusive of the partition's end: the end key belongs to the next partition.
        let p = plan(&read(b"b", true, b"m", true, false), &owned(b"a", b"m"));
        assert_eq!(p.boundary.as_deref(), Some(&b"m"[..]));
        // Descending reads are clipped but never continued.
        let p = plan(&read(b"b", false, b"z", true, true), &owned(b"a", b"m"));
        assert_eq!(
            (p.boundary, p.lower),
            (None, Bound::Excluded(b"b".to_vec()))
        );
    }

    #[test]
    fn pages_end_at_the_item_or_byte_limit() {
        let mut r = read(b"a", true, b"z", false, false);
        r.items_max = 2;
        let p = plan(&r, &owned(b"a", b"zz"));
        let mut b = PageBuilder::new(&r);
        assert!(!b.push(b"x"));
        assert!(b.push(b"y"));
        assert_eq!(
            b.finish(&p),
            (vec![b"x".to_vec(), b"y".to_vec()], PageEnd::Limit)
        );
        r.items_max = 100;
        r.bytes_max = 5;
        let mut b = PageBuilder::new(&r);
        assert!(!b.push(b"1234"));
        assert!(b.push(b"56"), "the item that reaches the limit is included");
        let mut b = PageBuilder::new(&r);
        b.push(b"1");
        assert_eq!(b.finish(&p).1, PageEnd::Done);
    }

    /// Random keys spread over random partitions: reading every partition in turn from the
    /// first key, following boundaries and limits, returns exactly the keys in the range,
    /// once each, in order.
    #[test]
    fn following_boundaries_and_limits_reads_each_key_once() {
        for seed in test_seeds(200) {
            let mut rng = Rng::new(seed);
            let mut keys = BTreeMap::new();
            for _ in 0..rng.below(60) {
                let k = vec![rng.below(8) as u8, rng.below(8) as u8];
                keys.insert(k.clone(), k);
            }
            let mut cuts: Vec<Vec<u8>> = (0..rng.below(4))
                .map(|_| vec![rng.below(8) as u8, rng.below(8) as u8])
                .collect();
            cuts.push(vec![0]);
            cuts.push(vec![9]);
            cuts.sort();
            cuts.dedup();
            let parts: Vec<KeyRange> = cuts.windows(2).map(|w| owned(&w[0], &w[1])).collect();
            let (lo, hi) = (vec![rng.below(4) as u8], vec![4 + rng.below(5) as u8]);
            let (li, ui) = (rng.below(2) == 0, rng.below(2) == 0);
            let mut r = read(&lo, li, &hi, ui, false);
            r.items_max = 1 + rng.below(5) as u32;
            let want: Vec<Vec<u8>> = keys
                .keys()
                .filter(|k| {
                    (if li { **k >= lo } else { **k > lo })
                        && (if ui { **k <= hi } else { **k < hi })
                })
                .cloned()
                .collect();
            let mut got = Vec::new();
            loop {
                let part = parts.iter().find(|p| p.contains(&r.lower)).unwrap();
                let p = plan(&r, part);
                let mut b = PageBuilder::new(&r);
                for v in keys.iter().filter(|(k, _)| p.contains(k)).map(|(_, v)| v) {
                    if b.push(v) {
                        break;
                    }
                }
                let (items, end) = b.finish(&p);
                got.extend(items.iter().cloned());
                match end {
                    PageEnd::Done => break,
                    PageEnd::Limit => {
                        r.lower = items.last().unwrap().clone();
                        r.lower_inclusive = false;
                    }
                    PageEnd::Boundary(k) => {
                        r.lower = k;
                        r.lower_inclusive = true;
                    }
                }
            }
            assert_eq!(got, want, "seed {seed}");
        }
    }
}

//! Block efficacy: which saslguard block made Postfix refuse each connection it logged
//! as `NOQUEUE: reject: ... Client host rejected: <reject_text>` (events of kind
//! [`EventKind::Rejected`]).
//!
//! A refusal at time `t` from address `A` belongs to the postfix block whose map entry
//! matched: among the blocks covering `A` in force at `t`, the most specific one (the
//! map is looked up address first), the newest among equals. When none was in force,
//! the entry may still have been in the map until the next `run` rendered it again, so
//! a block that ended less than [`RENDER_LAG`] before counts. Otherwise the refusal is
//! unattributed (an entry saslguard did not write).
//!
//! Counts come from the rollups per address and time slice, never from reading every
//! refusal, so a block that refused a million connections costs no more than one.

use std::collections::HashMap;

use ipnet::IpNet;

use crate::parse::EventKind;
use crate::store::ReportStore;
use crate::store::{Block, BlockTarget};

/// How long after a block ended its map entry may still be in force: the next `run`
/// renders the map again (the timer runs every 5 minutes; this leaves room for a late
/// or failed run).
pub const RENDER_LAG: i64 = 3600;

/// Refused connections of a period and the blocks they belong to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attribution {
    /// All refused connections in the period.
    pub total: i64,
    /// Per block id.
    pub per_block: HashMap<i64, i64>,
    /// Those no block explains.
    pub unattributed: i64,
}

/// Attributes the refusals in `(since, until]` to the postfix blocks; with `within`,
/// only those of the addresses inside that network.
pub fn attribute(
    store: &dyn ReportStore,
    since: i64,
    until: i64,
    within: Option<&IpNet>,
) -> anyhow::Result<Attribution> {
    let blocks: Vec<Block> = store
        .all_blocks()?
        .into_iter()
        .filter(|b| b.target == BlockTarget::Postfix && b.created_at <= until)
        .collect();
    let mut out = Attribution::default();
    let refusing = store.events_per_address(EventKind::Rejected, since, until, within)?;
    for (ip, refused) in refusing {
        out.total += refused;
        let covering: Vec<&Block> = blocks.iter().filter(|b| b.network.contains(&ip)).collect();
        let mut attributed = 0;
        // Slices of the period in which the same block (or none) applies.
        let mut cuts = vec![since, until];
        for block in &covering {
            cuts.push(block.created_at - 1);
            if let Some(end) = block.end() {
                cuts.extend([end - 1, end + RENDER_LAG - 1]);
            }
        }
        cuts.retain(|&t| t >= since && t <= until);
        cuts.sort_unstable();
        cuts.dedup();
        for slice in cuts.windows(2) {
            let (from, to) = (slice[0], slice[1]);
            let Some(block) = matching_block(&covering, to) else {
                continue;
            };
            let n = store.events_of_address(ip, EventKind::Rejected, from, to)?;
            if n > 0 {
                *out.per_block.entry(block.id).or_insert(0) += n;
                attributed += n;
            }
            if attributed == refused {
                break;
            }
        }
        out.unattributed += refused - attributed;
    }
    Ok(out)
}

/// The block whose map entry refused a connection at `at`, among blocks covering the
/// client.
fn matching_block<'b>(covering: &[&'b Block], at: i64) -> Option<&'b Block> {
    let in_force = covering
        .iter()
        .filter(|b| b.created_at <= at && b.end().is_none_or(|end| at < end))
        .max_by_key(|b| (b.network.prefix_len(), b.created_at, b.id));
    if let Some(block) = in_force {
        return Some(block);
    }
    covering
        .iter()
        .filter_map(|b| Some((b, b.end()?)))
        .filter(|(b, end)| b.created_at <= at && *end <= at && at < end + RENDER_LAG)
        .max_by_key(|(b, end)| (*end, b.network.prefix_len(), b.id))
        .map(|(b, _)| *b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Origin;

    fn block(id: i64, network: &str, created_at: i64, end: Option<i64>) -> Block {
        Block {
            id,
            network: network.parse().unwrap(),
            target: BlockTarget::Postfix,
            origin: Origin::Manual,
            reason: String::new(),
            failures: None,
            window_seconds: None,
            created_at,
            expires_at: end,
            ended_at: None,
            end_reason: None,
        }
    }

    #[test]
    fn the_most_specific_block_in_force_matches_then_a_recently_ended_one() {
        let host = block(1, "192.0.2.7/32", 100, Some(200));
        let net = block(2, "192.0.2.0/24", 150, None);
        let old = block(3, "192.0.2.7/32", 10, Some(50));
        let covering = [&host, &net, &old];
        assert_eq!(
            matching_block(&covering, 99).map(|b| b.id),
            None.or(Some(3))
        );
        assert_eq!(matching_block(&covering, 120).map(|b| b.id), Some(1));
        assert_eq!(
            matching_block(&covering, 160).map(|b| b.id),
            Some(1),
            "/32 beats /24"
        );
        assert_eq!(matching_block(&covering, 200).map(|b| b.id), Some(2));
        let only_host = [&host];
        assert_eq!(
            matching_block(&only_host, 200 + RENDER_LAG - 1).map(|b| b.id),
            Some(1)
        );
        assert_eq!(
            matching_block(&only_host, 200 + RENDER_LAG).map(|b| b.id),
            None
        );
        assert_eq!(matching_block(&only_host, 99).map(|b| b.id), None);
    }
}

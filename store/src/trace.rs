//! A parcel's provenance as a node answers it: its own events, and its
//! trace back to the mines, read from the parcel records and the events
//! index.

use std::collections::{BTreeSet, HashSet, VecDeque};

use kp_ledger::model::ParcelId;
use kp_ledger::state::StateRead;
use kp_ledger::trace::{Event, Trace};

use crate::error::StoreError;
use crate::snapshot::{ChainPlace, Lineage, Snapshot};

impl Snapshot {
    /// A parcel's own history, in chain order.
    pub fn parcel_events(&self, id: &ParcelId) -> Result<Vec<Event>, StoreError> {
        self.event_index(id)?
            .into_iter()
            .map(|place| self.event(place))
            .collect()
    }

    /// The parcel, every ancestor back to the mines (through splits and
    /// merges, each once), and every event of each, oldest first. Costs what
    /// these parcels' histories cost: a read and an index range per parcel.
    pub fn trace(&self, id: &ParcelId) -> Result<Option<Trace>, StoreError> {
        let Some(lineage) = self.lineage(id)? else {
            return Ok(None);
        };
        // A split or merge is in the history of both sides: keyed by its
        // place in the chain, it is listed once and in order.
        let events: BTreeSet<ChainPlace> = lineage
            .iter()
            .flat_map(|(_, places)| places.iter().copied())
            .collect();
        let events = events
            .into_iter()
            .map(|place| self.event(place))
            .collect::<Result<_, _>>()?;
        Ok(Some(Trace {
            parcel: *id,
            parcels: lineage.into_iter().map(|(parcel, _)| parcel).collect(),
            events,
        }))
    }

    /// The parcel and every ancestor, breadth first, each once, with the
    /// places of its own events in chain order.
    pub(crate) fn lineage(&self, id: &ParcelId) -> Result<Option<Lineage>, StoreError> {
        let Some(root) = self.parcel(id)? else {
            return Ok(None);
        };
        let mut seen: HashSet<ParcelId> = HashSet::from([root.id]);
        let mut queue = VecDeque::from([root]);
        let mut lineage = Vec::new();
        while let Some(parcel) = queue.pop_front() {
            for parent in &parcel.parents {
                if seen.insert(*parent) {
                    let record = self.parcel(parent)?.ok_or_else(|| {
                        StoreError::Corrupt(format!(
                            "parcel {} names a missing parent {parent}",
                            parcel.id
                        ))
                    })?;
                    queue.push_back(record);
                }
            }
            let places = self.event_index(&parcel.id)?;
            lineage.push((parcel, places));
        }
        Ok(Some(lineage))
    }

    fn event(&self, place: ChainPlace) -> Result<Event, StoreError> {
        self.tx_at(place)?.event()
    }
}

//! Each rule of `docs/domain.md`, accepting the right case and rejecting the
//! wrong ones. `World::apply_signed` also checks that every rejection left
//! the state untouched.
//!
//! One file per rules file (`envelope` for `rules/mod.rs`), plus the cases
//! that cross them (`compliant_zones`, `limits`, `weak_keys`); here, the
//! helpers they share.

use kp_crypto::PublicKey;

use crate::model::{
    CertificateStatus, HsCode, ParcelId, ParcelStatus, ParticipantStatus, Role, TransferStatus,
};
use crate::rejection::Rejection;
use crate::state::StateRead;
use crate::testkit::{code, World, START_TIME};
use crate::tx::{Body, SplitOutput};
use crate::units::{day_of, SECONDS_PER_DAY};

fn rejected<T>(result: Result<T, Rejection>) -> &'static str {
    match result {
        Ok(_) => panic!("expected a rejection, the transaction was accepted"),
        Err(r) => r.code(),
    }
}

/// Botswana: a miner, a trader, a sorter and an exporter; EU: an importer.
struct Chain {
    w: World,
    miner: PublicKey,
    trader: PublicKey,
    sorter: PublicKey,
    exporter: PublicKey,
    importer: PublicKey,
}

fn chain() -> Chain {
    let mut w = World::new();
    let miner = w.enrol("BW", "debswana", Role::Miner, None);
    let trader = w.enrol("BW", "okavango", Role::Trader, None);
    let sorter = w.enrol("BW", "dtc", Role::Sorter, None);
    let exporter = w.enrol("BW", "bw-export", Role::Exporter, None);
    let importer = w.enrol("EU", "antwerp", Role::Importer, None);
    Chain {
        w,
        miner,
        trader,
        sorter,
        exporter,
        importer,
    }
}

fn issue_body(number: &str, c: &Chain, parcels: Vec<ParcelId>, days: u64) -> Body {
    Body::IssueCertificate {
        number: number.to_owned(),
        exporter: c.exporter,
        importer: c.importer,
        destination: code("EU"),
        parcels,
        hs_codes: vec![HsCode::UNSORTED],
        expires_on: day_of(START_TIME + days * SECONDS_PER_DAY),
        value_cents: None,
    }
}

/// A parcel registered in Botswana and handed to the exporter.
fn exportable(c: &mut Chain, milli_carats: u64) -> ParcelId {
    let p = c.w.register(&c.miner, "BW", milli_carats);
    c.w.hand_over(&c.miner, p, &c.exporter);
    p
}

mod certificate;
mod compliant_zones;
mod envelope;
mod flag;
mod governance;
mod limits;
mod member;
mod parcel;
mod transfer;
mod weak_keys;

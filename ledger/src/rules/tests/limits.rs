//! The limits of one parcel (a billion carats, US$ 100 billion) hold for
//! every parcel a transaction creates, and sums over many parcels at those
//! limits come out exact.

use super::*;
use crate::rules::{MILLI_CARATS_MAX, VALUE_CENTS_MAX};
use crate::tx::PARCELS_PER_TX_MAX;

/// A Botswana parcel of `milli_carats` worth `value_cents`, registered by
/// the chain's miner.
fn registered(c: &mut Chain, milli_carats: u64, value_cents: u64) -> ParcelId {
    let mut body = World::register_body("BW", milli_carats);
    if let Body::RegisterParcel {
        value_cents: value, ..
    } = &mut body
    {
        *value = value_cents;
    }
    c.w.ok(&c.miner.clone(), body).created[0]
}

fn merge(c: &mut Chain, parcels: Vec<ParcelId>) -> Result<ParcelId, Rejection> {
    let miner = c.miner;
    Ok(c.w.apply(&miner, Body::MergeParcels { parcels })?.created[0])
}

#[test]
fn a_merge_past_the_limits_of_one_parcel_is_refused() {
    let mut c = chain();
    let heaviest = [
        registered(&mut c, MILLI_CARATS_MAX, 100),
        registered(&mut c, MILLI_CARATS_MAX, 100),
    ];
    assert_eq!(rejected(merge(&mut c, heaviest.to_vec())), "too_large");
    let dearest = [
        registered(&mut c, 1_000, VALUE_CENTS_MAX),
        registered(&mut c, 1_000, VALUE_CENTS_MAX),
    ];
    assert_eq!(rejected(merge(&mut c, dearest.to_vec())), "too_large");
    // One carat or one cent over is one too many.
    let over = [
        registered(&mut c, MILLI_CARATS_MAX - 1_000, 100),
        registered(&mut c, 1_001, 100),
    ];
    assert_eq!(rejected(merge(&mut c, over.to_vec())), "too_large");

    // Exactly at the limits is a parcel like any other.
    let at_limits = [
        registered(&mut c, MILLI_CARATS_MAX - 1_000, VALUE_CENTS_MAX - 1),
        registered(&mut c, 1_000, 1),
    ];
    let merged = merge(&mut c, at_limits.to_vec()).expect("within the limits");
    let parcel = c.w.parcel(&merged);
    assert_eq!(
        (parcel.milli_carats, parcel.value_cents),
        (MILLI_CARATS_MAX, VALUE_CENTS_MAX)
    );
    // And its inputs, refused twice, were left as they were.
    for id in heaviest.iter().chain(&dearest).chain(&over) {
        assert_eq!(c.w.parcel(id).status, ParcelStatus::Live);
    }
}

#[test]
fn a_certificate_over_the_most_parcels_at_their_limits_adds_up_exactly() {
    let mut c = chain();
    let count = PARCELS_PER_TX_MAX as u64;
    let parcels: Vec<ParcelId> = (0..count)
        .map(|_| {
            let p = registered(&mut c, MILLI_CARATS_MAX, VALUE_CENTS_MAX);
            c.w.hand_over(&c.miner.clone(), p, &c.exporter.clone());
            p
        })
        .collect();
    let bw = c.w.authority("BW");
    let body = issue_body("BW-MAX", &c, parcels.clone(), 30);
    c.w.ok(&bw, body);
    let cert = c.w.state.certificate("BW-MAX").unwrap().unwrap();
    assert_eq!(cert.milli_carats, count * MILLI_CARATS_MAX);
    assert_eq!(cert.value_cents, count * VALUE_CENTS_MAX);
    assert_eq!(cert.origins.len(), 1);
    assert_eq!(cert.origins[0].milli_carats, count * MILLI_CARATS_MAX);

    // Received as certified, each parcel keeps its value: its share of the
    // certificate's.
    let eu = c.w.authority("EU");
    c.w.ok(
        &eu,
        Body::ReceiveCertificate {
            number: "BW-MAX".into(),
            milli_carats: count * MILLI_CARATS_MAX,
            parcel_count: count as u32,
        },
    );
    for id in &parcels {
        let parcel = c.w.parcel(id);
        assert_eq!(parcel.holder, c.importer);
        assert_eq!(parcel.value_cents, VALUE_CENTS_MAX);
    }
}

//! Transfers (`rules/transfer.rs`): the holder offers, the recipient
//! accepts, the offerer may cancel, and a flagged parcel stays put.

use super::*;

#[test]
fn holder_offers_recipient_accepts() {
    let mut c = chain();
    let p = c.w.register(&c.miner, "BW", 1_000);
    let t = c.w.offer(&c.miner, p, &c.trader);
    assert_eq!(c.w.parcel(&p).status, ParcelStatus::Offered { transfer: t });
    assert_eq!(
        rejected(c.w.apply(&c.sorter.clone(), Body::AcceptTransfer { transfer: t })),
        "not_recipient"
    );
    c.w.ok(&c.trader.clone(), Body::AcceptTransfer { transfer: t });
    assert_eq!(c.w.parcel(&p).holder, c.trader);
    assert_eq!(
        c.w.state.transfer(&t).unwrap().unwrap().status,
        TransferStatus::Accepted
    );
    assert_eq!(
        rejected(c.w.apply(&c.trader.clone(), Body::AcceptTransfer { transfer: t })),
        "transfer_closed"
    );
}

#[test]
fn only_the_holder_offers_and_only_at_home() {
    let mut c = chain();
    let p = c.w.register(&c.miner, "BW", 1_000);
    let steal = Body::OfferTransfer {
        parcel: p,
        to: c.sorter,
        price_cents: None,
    };
    assert_eq!(rejected(c.w.apply(&c.trader.clone(), steal)), "not_holder");
    let abroad = Body::OfferTransfer {
        parcel: p,
        to: c.importer,
        price_cents: None,
    };
    assert_eq!(
        rejected(c.w.apply(&c.miner.clone(), abroad)),
        "recipient_not_domestic"
    );
    let selfish = Body::OfferTransfer {
        parcel: p,
        to: c.miner,
        price_cents: None,
    };
    assert_eq!(
        rejected(c.w.apply(&c.miner.clone(), selfish)),
        "self_transfer"
    );
    let missing = Body::OfferTransfer {
        parcel: kp_crypto::Hash32([9; 32]),
        to: c.trader,
        price_cents: None,
    };
    assert_eq!(
        rejected(c.w.apply(&c.miner.clone(), missing)),
        "unknown_parcel"
    );
}

#[test]
fn an_offer_can_be_cancelled_by_the_offerer_only() {
    let mut c = chain();
    let p = c.w.register(&c.miner, "BW", 1_000);
    let t = c.w.offer(&c.miner, p, &c.trader);
    // Under an open offer the parcel cannot move otherwise.
    let again = Body::OfferTransfer {
        parcel: p,
        to: c.sorter,
        price_cents: None,
    };
    assert_eq!(
        rejected(c.w.apply(&c.miner.clone(), again)),
        "parcel_offered"
    );
    assert_eq!(
        rejected(c.w.apply(&c.trader.clone(), Body::CancelTransfer { transfer: t })),
        "not_offerer"
    );
    c.w.ok(&c.miner.clone(), Body::CancelTransfer { transfer: t });
    assert_eq!(c.w.parcel(&p).status, ParcelStatus::Live);
    assert_eq!(
        rejected(c.w.apply(&c.trader.clone(), Body::AcceptTransfer { transfer: t })),
        "transfer_closed"
    );
    let unknown = Body::AcceptTransfer {
        transfer: kp_crypto::Hash32([3; 32]),
    };
    assert_eq!(
        rejected(c.w.apply(&c.trader.clone(), unknown)),
        "unknown_transfer"
    );
}

#[test]
fn a_flagged_parcel_cannot_move_or_be_accepted() {
    let mut c = chain();
    let p = c.w.register(&c.miner, "BW", 1_000);
    let t = c.w.offer(&c.miner, p, &c.trader);
    let bw = c.w.authority("BW");
    c.w.ok(
        &bw,
        Body::FlagParcel {
            parcel: p,
            reason: "origin under review".into(),
        },
    );
    assert_eq!(
        rejected(c.w.apply(&c.trader.clone(), Body::AcceptTransfer { transfer: t })),
        "parcel_flagged"
    );
    c.w.ok(&c.miner.clone(), Body::CancelTransfer { transfer: t });
    let offer = Body::OfferTransfer {
        parcel: p,
        to: c.trader,
        price_cents: None,
    };
    assert_eq!(
        rejected(c.w.apply(&c.miner.clone(), offer.clone())),
        "parcel_flagged"
    );
    c.w.ok(&bw, Body::ClearFlag { parcel: p });
    assert!(c.w.apply(&c.miner.clone(), offer).is_ok());
}

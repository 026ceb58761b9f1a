//! A short certified chain in a real store (`kp_store::testkit`'s
//! `CertifiedChain`: every block carries a commit certificate of its
//! validators): what bundles, commit certificates, synced blocks and the
//! query endpoints' seeds are made from, and what the API query target reads.
//!
//! Block by block: members licensed; a parcel registered, handed on, split,
//! merged; a certificate issued and received with other figures (a
//! discrepancy, for the anomaly checks); Angola admitted with a validator
//! (a change of the validator set, which bundles must show); a parcel
//! registered and moved after it.

use std::path::Path;

use kp_crypto::PublicKey;
use kp_ledger::model::{HsCode, ParcelId, ParticipantChange, Role};
use kp_ledger::rules::transfer_id;
use kp_ledger::testkit::{code, key_named, World};
use kp_store::testkit::CertifiedChain;
use kp_ledger::tx::{Body, SplitOutput};
use tempfile::TempDir;

pub struct Chain {
    pub chain: CertifiedChain,
    /// Parcels whose bundles are worth having: the split's output, the
    /// merge's output, and the parcel moved after the set changed.
    pub parcels: Vec<ParcelId>,
    _dir: TempDir,
}

impl Chain {
    /// Builds the chain in a new temporary directory (removed on drop).
    pub fn build() -> Chain {
        let dir = tempfile::Builder::new()
            .prefix("kp-fuzz-chain-")
            .tempdir()
            .expect("a temporary directory");
        let chain = build_at(&dir.path().join("ledger.redb"));
        Chain {
            chain: chain.0,
            parcels: chain.1,
            _dir: dir,
        }
    }
}

fn enrol(member: PublicKey, role: Role, name: &str) -> Body {
    Body::EnrolMember {
        member,
        role,
        name: name.to_owned(),
        licence: format!("LIC-{name}"),
        zone: None,
    }
}

fn hand_over(chain: &mut CertifiedChain, from: PublicKey, parcel: ParcelId, to: PublicKey) {
    let offer = chain.sign(
        &from,
        Body::OfferTransfer {
            parcel,
            to,
            price_cents: Some(1_000_000),
        },
    );
    let transfer = transfer_id(&offer.id);
    let accept = chain.sign(&to, Body::AcceptTransfer { transfer });
    chain.block_signed(vec![offer, accept]);
}

fn build_at(path: &Path) -> (CertifiedChain, Vec<ParcelId>) {
    let mut chain = CertifiedChain::open(path);
    let bw = chain.authority("BW");
    let eu = chain.authority("EU");
    let za = chain.authority("ZA");
    let miner = chain.key("chain miner");
    let trader = chain.key("chain trader");
    let exporter = chain.key("chain exporter");
    let importer = chain.key("chain importer");
    chain.block(vec![
        (bw, enrol(miner, Role::Miner, "Jwaneng Mine")),
        (bw, enrol(trader, Role::Trader, "Gaborone Rough Traders")),
        (
            bw,
            enrol(exporter, Role::Exporter, "Botswana Diamond Exports"),
        ),
        (eu, enrol(importer, Role::Importer, "Antwerp Rough Imports")),
    ]);
    let first = chain
        .block(vec![(miner, World::register_body("BW", 1_250_500))])
        .txs[0]
        .created[0];
    let second = chain
        .block(vec![(miner, World::register_body("BW", 600_000))])
        .txs[0]
        .created[0];
    hand_over(&mut chain, miner, first, trader);
    let parts = chain
        .block(vec![(
            trader,
            Body::SplitParcel {
                parcel: first,
                outputs: vec![
                    SplitOutput {
                        milli_carats: 800_250,
                        hs_code: None,
                    },
                    SplitOutput {
                        milli_carats: 450_250,
                        hs_code: None,
                    },
                ],
            },
        )])
        .txs[0]
        .created
        .clone();
    hand_over(&mut chain, miner, second, trader);
    let merged = chain
        .block(vec![(
            trader,
            Body::MergeParcels {
                parcels: vec![parts[1], second],
            },
        )])
        .txs[0]
        .created[0];
    hand_over(&mut chain, trader, parts[0], exporter);
    let day = chain.snapshot().tip().map_or(0, |tip| tip.time / 86_400) as u32;
    chain.block(vec![(
        bw,
        Body::IssueCertificate {
            number: "BW-2026-000001".to_owned(),
            exporter,
            importer,
            destination: code("EU"),
            parcels: vec![parts[0]],
            hs_codes: vec![HsCode::UNSORTED],
            expires_on: day + 90,
            value_cents: None,
        },
    )]);
    chain.block(vec![(
        eu,
        Body::ReceiveCertificate {
            number: "BW-2026-000001".to_owned(),
            milli_carats: 800_000,
            parcel_count: 1,
        },
    )]);
    // Angola admitted with a validator: the set changes.
    let change = ParticipantChange::Admit {
        code: code("AO"),
        name: "Angola".to_owned(),
        authority: key_named("authority AO").public(),
        validator: Some(key_named("validator AO").public()),
    };
    let proposed = chain.block(vec![(bw, Body::ProposeParticipantChange { change })]);
    let proposal = proposed.txs[0].created[0];
    chain.block(vec![
        (eu, Body::ApproveParticipantChange { proposal }),
        (za, Body::ApproveParticipantChange { proposal }),
    ]);
    let late = chain
        .block(vec![(miner, World::register_body("BW", 700_000))])
        .txs[0]
        .created[0];
    hand_over(&mut chain, miner, late, trader);
    (chain, vec![parts[0], merged, late])
}

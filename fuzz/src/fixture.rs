//! A fixed, in-memory ledger that decoded transactions and blocks are run
//! against: the test genesis (`kp_ledger::testkit`), with members of every
//! role, parcels live, offered, flagged and shipped, a certificate in transit
//! and a governance proposal open, so that a transaction of every kind has
//! something to act on. Built once per process; deterministic (keys by name).

use std::sync::OnceLock;

use kp_crypto::PublicKey;
use kp_ledger::model::{HsCode, ParcelId, ParticipantChange, ProposalId, Role, TransferId};
use kp_ledger::rules::BlockContext;
use kp_ledger::testkit::{code, key_named, test_chain, World};
use kp_ledger::tx::{Body, DecodedTx, SplitOutput};

pub struct Fixture {
    pub world: World,
    pub miner: PublicKey,
    pub trader: PublicKey,
    pub sorter: PublicKey,
    pub exporter: PublicKey,
    pub importer: PublicKey,
    /// Held by the miner, live.
    pub live: [ParcelId; 2],
    /// Under an open offer from the miner to the trader.
    pub offered: ParcelId,
    pub open_transfer: TransferId,
    /// Held by the exporter, live.
    pub exportable: ParcelId,
    /// Shipped under `certificate`, in transit to the EU.
    pub shipped: ParcelId,
    pub certificate: String,
    pub flagged: ParcelId,
    /// Proposed by BW, open.
    pub proposal: ProposalId,
}

/// The day (since 1970) of the fixture's block time.
pub fn today(world: &World) -> u32 {
    u32::try_from(world.time / 86_400).unwrap_or(u32::MAX)
}

/// The block a transaction against the fixture is judged in.
pub fn block_context(world: &World) -> BlockContext {
    BlockContext {
        chain: test_chain(),
        height: world.tip.height + 1,
        time: world.time,
    }
}

/// The fixture, built on first use.
pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(build)
}

/// The ledger at the test genesis, before any block: what synced block 1
/// of a `chain` applies to.
pub fn genesis_world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(World::new)
}

fn build() -> Fixture {
    let mut w = World::new();
    let bw = w.authority("BW");
    let miner = w.enrol("BW", "fuzz miner", Role::Miner, None);
    let trader = w.enrol("BW", "fuzz trader", Role::Trader, None);
    let sorter = w.enrol("BW", "fuzz sorter", Role::Sorter, None);
    let exporter = w.enrol("BW", "fuzz exporter", Role::Exporter, None);
    let importer = w.enrol("EU", "fuzz importer", Role::Importer, None);
    let live = [
        w.register(&miner, "BW", 1_250_500),
        w.register(&miner, "BW", 800_000),
    ];
    let offered = w.register(&miner, "BW", 300_000);
    let open_transfer = w.offer(&miner, offered, &trader);
    let exportable = w.register(&miner, "BW", 400_000);
    w.hand_over(&miner, exportable, &exporter);
    let shipped = w.register(&miner, "BW", 500_000);
    w.hand_over(&miner, shipped, &exporter);
    let certificate = "BW-2026-000001".to_owned();
    w.ok(
        &bw,
        Body::IssueCertificate {
            number: certificate.clone(),
            exporter,
            importer,
            destination: code("EU"),
            parcels: vec![shipped],
            hs_codes: vec![HsCode::UNSORTED],
            expires_on: today(&w) + 90,
            value_cents: None,
        },
    );
    let flagged = w.register(&miner, "BW", 100_000);
    w.ok(
        &bw,
        Body::FlagParcel {
            parcel: flagged,
            reason: "fuzz: held for inquiry".to_owned(),
        },
    );
    let proposal = w
        .ok(
            &bw,
            Body::ProposeParticipantChange {
                change: ParticipantChange::Suspend {
                    code: code("IN"),
                    zones: Vec::new(),
                },
            },
        )
        .created[0];
    Fixture {
        world: w,
        miner,
        trader,
        sorter,
        exporter,
        importer,
        live,
        offered,
        open_transfer,
        exportable,
        shipped,
        certificate,
        flagged,
        proposal,
    }
}

impl Fixture {
    /// One valid transaction of every kind against the fixture, each signed
    /// with its signer's next nonce (so each applies alone, not together).
    pub fn transactions(&self) -> Vec<DecodedTx> {
        let w = &self.world;
        let authority = |c: &str| w.authority(c);
        let bodies: Vec<(PublicKey, Body)> = vec![
            (
                authority("ZA"),
                Body::EnrolMember {
                    member: key_named("fuzz newcomer").public(),
                    role: Role::Trader,
                    name: "Kimberley Rough Traders".to_owned(),
                    licence: "ZA-DL-0001".to_owned(),
                    zone: Some("Northern Cape".to_owned()),
                },
            ),
            (
                authority("BW"),
                Body::RevokeMember {
                    member: self.sorter,
                },
            ),
            (self.miner, World::register_body("BW", 2_000_000)),
            (
                self.miner,
                Body::OfferTransfer {
                    parcel: self.live[0],
                    to: self.trader,
                    price_cents: Some(18_000_000),
                },
            ),
            (
                self.trader,
                Body::AcceptTransfer {
                    transfer: self.open_transfer,
                },
            ),
            (
                self.miner,
                Body::CancelTransfer {
                    transfer: self.open_transfer,
                },
            ),
            (
                self.miner,
                Body::SplitParcel {
                    parcel: self.live[0],
                    outputs: vec![
                        SplitOutput {
                            milli_carats: 800_250,
                            hs_code: Some(HsCode::NON_INDUSTRIAL),
                        },
                        SplitOutput {
                            milli_carats: 450_250,
                            hs_code: None,
                        },
                    ],
                },
            ),
            (
                self.miner,
                Body::MergeParcels {
                    parcels: self.live.to_vec(),
                },
            ),
            (
                authority("BW"),
                Body::IssueCertificate {
                    number: "BW-2026-000002".to_owned(),
                    exporter: self.exporter,
                    importer: self.importer,
                    destination: code("EU"),
                    parcels: vec![self.exportable],
                    hs_codes: vec![HsCode::UNSORTED],
                    expires_on: today(w) + 30,
                    value_cents: Some(5_600_000),
                },
            ),
            (
                authority("EU"),
                Body::ReceiveCertificate {
                    number: self.certificate.clone(),
                    milli_carats: 500_000,
                    parcel_count: 1,
                },
            ),
            (
                authority("BW"),
                Body::FlagParcel {
                    parcel: self.live[1],
                    reason: "fuzz: papers do not match".to_owned(),
                },
            ),
            (
                authority("BW"),
                Body::ClearFlag {
                    parcel: self.flagged,
                },
            ),
            (
                authority("ZA"),
                Body::ProposeParticipantChange {
                    change: ParticipantChange::Admit {
                        code: code("AO"),
                        name: "Angola".to_owned(),
                        authority: key_named("authority AO").public(),
                        validator: Some(key_named("validator AO").public()),
                    },
                },
            ),
            (
                authority("EU"),
                Body::ApproveParticipantChange {
                    proposal: self.proposal,
                },
            ),
        ];
        bodies
            .into_iter()
            .map(|(signer, body)| w.sign(&signer, body))
            .collect()
    }
}

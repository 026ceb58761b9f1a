//! Human views of the ledger's records: plain text, carats with three
//! decimals, US$ with two, dates as `YYYY-MM-DD`, ids as lowercase hex.
//! Each function returns a string, so that views are tested without a node.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use kp_ledger::model::{
    Certificate, CertificateStatus, Member, OriginShare, Parcel, ParcelStatus, Participant,
    ParticipantCode, ProposalStatus,
};
use kp_ledger::trace::{Event, Trace};
use kp_ledger::units::{day_of, Carats, Day, Usd, SECONDS_PER_DAY};
use kp_wire::api::{ProposalView, StatusView, TxStatus};

// Worded in the ledger, which the node's event feed shares with these views.
pub use kp_ledger::summary::{describe, short_id as short};

/// UTC seconds -> `2026-03-01 14:05:09 UTC`.
pub fn date_time(secs: u64) -> String {
    let of_day = secs % SECONDS_PER_DAY;
    format!(
        "{} {:02}:{:02}:{:02} UTC",
        Day(day_of(secs)),
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

/// US$ per carat, in cents, rounded down; `None` for a weightless parcel.
fn usd_per_carat(value_cents: u64, milli_carats: u64) -> Option<Usd> {
    if milli_carats == 0 {
        return None;
    }
    let cents = u128::from(value_cents) * 1000 / u128::from(milli_carats);
    Some(Usd(u64::try_from(cents).unwrap_or(u64::MAX)))
}

fn value_line(value_cents: u64, milli_carats: u64) -> String {
    match usd_per_carat(value_cents, milli_carats) {
        Some(per) => format!("US$ {} (US$ {per}/ct)", Usd(value_cents)),
        None => format!("US$ {}", Usd(value_cents)),
    }
}

/// `BW` for one origin; `mixed: BW 60.000 ct, NA 40.000 ct` for several.
pub fn origins(shares: &[OriginShare]) -> String {
    match shares {
        [] => "unknown".to_owned(),
        [one] => one.participant.to_string(),
        many => {
            let parts: Vec<String> = many
                .iter()
                .map(|s| format!("{} {} ct", s.participant, Carats(s.milli_carats)))
                .collect();
            format!("mixed: {}", parts.join(", "))
        }
    }
}

pub fn parcel_status(status: &ParcelStatus) -> String {
    match status {
        ParcelStatus::Live => "live".to_owned(),
        ParcelStatus::Offered { transfer } => format!("offered (transfer {transfer})"),
        ParcelStatus::InTransit { certificate } => {
            format!("in transit under certificate {certificate}")
        }
        ParcelStatus::Frozen { certificate } => {
            format!("frozen: the receipt of certificate {certificate} did not match it")
        }
        ParcelStatus::Consumed { by } => format!("consumed: split or merged by transaction {by}"),
    }
}

/// One parcel, field by field.
pub fn parcel(p: &Parcel) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "parcel {}", p.id);
    let _ = writeln!(out, "  origin      {}", origins(&p.origins));
    if !p.zones.is_empty() {
        let _ = writeln!(out, "  zones       {}", p.zones.join(", "));
    }
    let mine = p.mine.as_deref().unwrap_or("(several mines, merged)");
    let _ = writeln!(out, "  mine        {mine}");
    let _ = writeln!(
        out,
        "  carats      {} ct, {} stones",
        Carats(p.milli_carats),
        p.stones
    );
    let _ = writeln!(
        out,
        "  value       {}",
        value_line(p.value_cents, p.milli_carats)
    );
    let _ = writeln!(out, "  HS code     {}", p.hs_code);
    let _ = writeln!(out, "  holder      {}", p.holder);
    let _ = writeln!(out, "  status      {}", parcel_status(&p.status));
    if let Some(reason) = &p.flag {
        let _ = writeln!(out, "  FLAGGED     {reason}");
    }
    for parent in &p.parents {
        let _ = writeln!(out, "  from        {parent}");
    }
    let _ = writeln!(
        out,
        "  created     at height {} by transaction {}",
        p.created_height, p.created_by
    );
    let _ = writeln!(
        out,
        "  history     {} events, chained to {}",
        p.history.events, p.history.head
    );
    out
}

/// `2026-03-01  height 12     register_parcel     …  by 1a2b3c4d5e6f`
pub fn event_line(e: &Event) -> String {
    format!(
        "{}  height {:<6} {:<20} {}  (by {}, tx {})",
        Day(day_of(e.time)),
        e.height,
        e.body.kind(),
        describe(&e.body, &e.created),
        short(&e.signer),
        short(&e.tx)
    )
}

fn events(out: &mut String, events: &[Event]) {
    if events.is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    for e in events {
        let _ = writeln!(out, "  {}", event_line(e));
    }
}

/// `kp parcel show`: the parcel, then its own events, oldest first.
pub fn parcel_view(p: &Parcel, history: &[Event]) -> String {
    let mut out = parcel(p);
    let _ = writeln!(out, "\nevents, oldest first:");
    events(&mut out, history);
    out
}

/// `kp trace`: the parcel, every event back to the mine, and every ancestor.
pub fn trace(t: &Trace) -> String {
    let mut out = String::new();
    let subject = t.parcels.iter().find(|p| p.id == t.parcel);
    match subject {
        Some(p) => out.push_str(&parcel(p)),
        None => {
            let _ = writeln!(out, "parcel {}", t.parcel);
        }
    }
    let _ = writeln!(out, "\nevents, oldest first:");
    events(&mut out, &t.events);
    let ancestors: Vec<&Parcel> = t.parcels.iter().filter(|p| p.id != t.parcel).collect();
    let _ = writeln!(out, "\nancestors:");
    if ancestors.is_empty() {
        let _ = writeln!(out, "  none: registered at the mine");
    }
    for a in ancestors {
        let mine = a.mine.as_deref().unwrap_or("(several mines, merged)");
        let zone = if a.zones.is_empty() {
            String::new()
        } else {
            format!(" zones {}", a.zones.join(", "))
        };
        let _ = writeln!(
            out,
            "  {}  origin {}{zone}  mine {mine}  {} ct  HS {}",
            a.id,
            origins(&a.origins),
            Carats(a.milli_carats),
            a.hs_code
        );
    }
    out
}

/// `committed at height 12 (tx 1a2b3c4d5e6f)`
pub fn committed_line(status: &TxStatus) -> String {
    match status.height {
        Some(h) => format!("committed at height {h} (tx {})", short(&status.id)),
        None => format!("committed (tx {})", short(&status.id)),
    }
}

pub fn tx_status(s: &TxStatus) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "transaction {}", s.id);
    let state = match (&s.state, s.height, &s.error) {
        (kp_wire::api::TxState::Committed, Some(h), _) => {
            format!("committed at height {h}, index {}", s.index.unwrap_or(0))
        }
        (kp_wire::api::TxState::Committed, None, _) => "committed".to_owned(),
        (kp_wire::api::TxState::Rejected, _, Some(e)) => {
            format!("rejected: {} ({})", e.message, e.code)
        }
        (kp_wire::api::TxState::Rejected, _, None) => "rejected".to_owned(),
        (kp_wire::api::TxState::Pending, _, _) => "pending: waiting for a block".to_owned(),
    };
    let _ = writeln!(out, "  state    {state}");
    for id in &s.created {
        let _ = writeln!(out, "  created  {id}");
    }
    out
}

pub fn status(s: &StatusView) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "chain         {}", s.chain_id);
    let _ = writeln!(out, "height        {}", s.height);
    if let Some(network) = s.network_height.filter(|n| *n > s.height) {
        let _ = writeln!(
            out,
            "catching up   {} blocks behind the network's {network}",
            network - s.height
        );
    }
    if s.read_only {
        let _ = writeln!(
            out,
            "observer      read-only: this node's key belongs to no Participant; submit \
             transactions through a Participant's node"
        );
    }
    let _ = writeln!(out, "last block    {}", s.last_block_hash);
    let _ = writeln!(out, "block time    {}", date_time(s.time));
    let _ = writeln!(out, "state hash    {}", s.state_hash);
    let _ = writeln!(out, "genesis       {}", s.genesis_hash);
    let _ = writeln!(out, "validators    {}", s.validators.len());
    for v in &s.validators {
        let _ = writeln!(out, "  {}  {}", v.participant, v.key);
    }
    let _ = writeln!(out, "peers         {}", s.peers);
    let _ = writeln!(out, "pending txs   {}", s.pending_txs);
    out
}

/// `kp participant list`: one line each, aligned: code, name, authority,
/// validator (if it runs one), standing.
pub fn participants(list: &[Participant]) -> String {
    let name_width = list
        .iter()
        .map(|p| p.name.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for p in list {
        let pad = name_width.saturating_sub(p.name.chars().count());
        let validator = match &p.validator {
            Some(key) => format!("validator {}", short(key)),
            None => "no validator".to_owned(),
        };
        let _ = writeln!(
            out,
            "{}  {}{}  authority {}  {validator:<22}  {}",
            p.code,
            p.name,
            " ".repeat(pad),
            short(&p.authority),
            p.status
        );
    }
    if list.is_empty() {
        out.push_str("no Participants\n");
    }
    out
}

/// `2 of 4 active Participants approve, 3 needed`: counted now.
pub fn tally(p: &ProposalView) -> String {
    format!(
        "{} of {} active Participants approve, {} needed",
        p.counted, p.active, p.needed
    )
}

fn approvers(p: &ProposalView) -> String {
    let codes: Vec<String> = p.approvals.iter().map(ToString::to_string).collect();
    codes.join(", ")
}

/// `applied at height 14 (3 of 4 active Participants approved)` or `open: …`.
pub fn proposal_state(p: &ProposalView) -> String {
    match &p.status {
        ProposalStatus::Executed {
            height,
            approvals,
            active,
        } => format!(
            "applied at height {height} ({approvals} of {active} active Participants approved)"
        ),
        ProposalStatus::Open => match &p.blocked {
            Some(e) => format!(
                "open, but cannot apply now: {} ({}); {}",
                e.message,
                e.code,
                tally(p)
            ),
            None => format!("open: {}", tally(p)),
        },
    }
}

/// `kp participant proposals`: one line each.
pub fn proposals(list: &[ProposalView]) -> String {
    let mut out = String::new();
    for p in list {
        let _ = writeln!(
            out,
            "{}  {}  (by {} at height {}; approved by {}); {}",
            short(&p.id),
            p.change,
            p.proposer,
            p.proposed_height,
            approvers(p),
            proposal_state(p)
        );
    }
    if list.is_empty() {
        out.push_str("no open proposals\n");
    }
    out
}

/// `kp participant proposal ID`: one proposal, field by field.
pub fn proposal(p: &ProposalView) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "proposal {}", p.id);
    let _ = writeln!(out, "  change     {}", p.change);
    let _ = writeln!(
        out,
        "  proposed   by {} at height {}",
        p.proposer, p.proposed_height
    );
    let _ = writeln!(out, "  approved   by {}", approvers(p));
    let _ = writeln!(out, "  status     {}", proposal_state(p));
    out
}

/// What a certificate view knows beyond the certificate: names of
/// Participants, the exporter and importer as enrolled.
pub struct CertificateContext<'a> {
    pub participants: &'a [Participant],
    pub exporter: Option<&'a Member>,
    pub importer: Option<&'a Member>,
}

impl CertificateContext<'_> {
    fn name(&self, code: ParticipantCode) -> String {
        let names: BTreeMap<ParticipantCode, &str> = self
            .participants
            .iter()
            .map(|p| (p.code, p.name.as_str()))
            .collect();
        match names.get(&code) {
            Some(name) => format!("{name} ({code})"),
            None => code.to_string(),
        }
    }
}

fn party(key: &kp_crypto::PublicKey, member: Option<&Member>) -> String {
    match member {
        Some(m) => format!(
            "{}, licence {} ({}), key {key}",
            m.name, m.licence, m.participant
        ),
        None => format!("key {key}"),
    }
}

/// `kp cert show`: every field of KPCS Annex I, in its order.
pub fn certificate(c: &Certificate, ctx: &CertificateContext<'_>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", Certificate::TITLE);
    let _ = writeln!(out, "{}.", Certificate::STATEMENT);
    let _ = writeln!(out);
    let origin = match c.origins.as_slice() {
        [one] => ctx.name(one.participant),
        many => {
            let parts: Vec<String> = many
                .iter()
                .map(|s| format!("{} {} ct", ctx.name(s.participant), Carats(s.milli_carats)))
                .collect();
            format!("mixed origin: {}", parts.join("; "))
        }
    };
    let authority = ctx
        .participants
        .iter()
        .find(|p| p.code == c.issuer)
        .map(|p| format!("{}, authority key {}", ctx.name(c.issuer), p.authority))
        .unwrap_or_else(|| ctx.name(c.issuer));
    let hs: Vec<String> = c.hs_codes.iter().map(ToString::to_string).collect();
    let rows: Vec<(&str, String)> = vec![
        ("Certificate number", c.number.clone()),
        ("Country of origin", origin),
        ("Date of issue", Day(c.issued_on).to_string()),
        ("Date of expiry", Day(c.expires_on).to_string()),
        ("Issuing authority", authority),
        ("Exporter", party(&c.exporter, ctx.exporter)),
        ("Importer", party(&c.importer, ctx.importer)),
        ("Destination", ctx.name(c.destination)),
        ("Carat weight", format!("{} ct", Carats(c.milli_carats))),
        ("Value", value_line(c.value_cents, c.milli_carats)),
        ("Number of parcels", c.parcels.len().to_string()),
        ("HS code(s)", hs.join(", ")),
        (
            "Validation",
            format!(
                "signed by the authority of {}, committed at height {}",
                c.issuer, c.issued_height
            ),
        ),
    ];
    for (label, value) in rows {
        let _ = writeln!(out, "{label:<20}  {value}");
    }
    for p in &c.parcels {
        let _ = writeln!(out, "{:<20}  {p}", "Parcel");
    }
    let status = match (&c.status, &c.receipt) {
        (CertificateStatus::InTransit, _) => "in transit: not yet received".to_owned(),
        (_, Some(r)) => {
            let verdict = if r.matches {
                "matches the certificate".to_owned()
            } else {
                "DISCREPANCY with the certificate".to_owned()
            };
            format!(
                "received on {} at height {}: {} ct, {} parcel(s); {verdict}",
                Day(r.received_on),
                r.height,
                Carats(r.milli_carats),
                r.parcel_count
            )
        }
        (CertificateStatus::Received, None) => "received".to_owned(),
        (CertificateStatus::Discrepancy, None) => "received with a discrepancy".to_owned(),
    };
    let _ = writeln!(out, "{:<20}  {status}", "Status");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use kp_crypto::{Hash32, PublicKey};
    use kp_ledger::model::{HsCode, ParticipantChange, ParticipantStatus, Receipt, Role};
    use kp_ledger::tx::{Body, SplitOutput};
    use kp_wire::api::ApiError;

    fn code(s: &str) -> ParticipantCode {
        s.parse().unwrap()
    }

    fn sample_parcel() -> Parcel {
        Parcel {
            id: Hash32([0x3f; 32]),
            origins: vec![OriginShare {
                participant: code("BW"),
                milli_carats: 1_250_500,
            }],
            zones: vec![],
            mine: Some("Jwaneng".into()),
            milli_carats: 1_250_500,
            stones: 3400,
            value_cents: 18_750_000,
            hs_code: HsCode::UNSORTED,
            holder: PublicKey([1; 32]),
            status: ParcelStatus::Live,
            flag: None,
            parents: vec![],
            created_by: Hash32([9; 32]),
            created_height: 3,
            history: Default::default(),
        }
    }

    #[test]
    fn dates_and_money() {
        assert_eq!(date_time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(date_time(86_400 + 3_723), "1970-01-02 01:02:03 UTC");
        assert_eq!(value_line(150_000, 10_000), "US$ 1500.00 (US$ 150.00/ct)");
        assert_eq!(value_line(150_000, 0), "US$ 1500.00");
    }

    #[test]
    fn origins_single_and_mixed() {
        let bw = OriginShare {
            participant: code("BW"),
            milli_carats: 60_000,
        };
        let na = OriginShare {
            participant: code("NA"),
            milli_carats: 40_000,
        };
        assert_eq!(origins(std::slice::from_ref(&bw)), "BW");
        assert_eq!(origins(&[bw, na]), "mixed: BW 60.000 ct, NA 40.000 ct");
    }

    #[test]
    fn parcel_view_shows_units() {
        let text = parcel(&sample_parcel());
        assert!(
            text.starts_with(&format!("parcel {}\n", "3f".repeat(32))),
            "{text}"
        );
        assert!(text.contains("1250.500 ct, 3400 stones"), "{text}");
        assert!(text.contains("US$ 187500.00 (US$ 149.94/ct)"), "{text}");
        assert!(text.contains("HS code     7102.10"), "{text}");
        assert!(text.contains("mine        Jwaneng"), "{text}");
    }

    #[test]
    fn events_describe_their_essentials() {
        let split = Body::SplitParcel {
            parcel: Hash32([0xab; 32]),
            outputs: vec![
                SplitOutput {
                    milli_carats: 1_000,
                    hs_code: Some(HsCode::NON_INDUSTRIAL),
                },
                SplitOutput {
                    milli_carats: 500,
                    hs_code: None,
                },
            ],
        };
        let created = [Hash32([0xcd; 32]), Hash32([0xef; 32])];
        assert_eq!(
            describe(&split, &created),
            "parcel abababababab split into 1.000 ct (HS 7102.31) + 0.500 ct -> parcels cdcdcdcdcdcd, efefefefefef"
        );
        let enrol = Body::EnrolMember {
            member: PublicKey([0x11; 32]),
            role: Role::Miner,
            name: "Debswana".into(),
            licence: "BW-M-1".into(),
            zone: None,
        };
        assert_eq!(
            describe(&enrol, &[]),
            "enrolled 111111111111 as miner \"Debswana\", licence BW-M-1"
        );
        let event = Event {
            tx: Hash32([0x22; 32]),
            height: 12,
            index: 0,
            time: 20_000 * 86_400 + 5,
            signer: PublicKey([0x33; 32]),
            body: Body::ClearFlag {
                parcel: Hash32([0x44; 32]),
            },
            created: vec![],
        };
        let line = event_line(&event);
        assert!(
            line.starts_with("2024-10-04  height 12     clear_flag"),
            "{line}"
        );
        assert!(
            line.ends_with("(by 333333333333, tx 222222222222)"),
            "{line}"
        );
    }

    #[test]
    fn trace_lists_events_and_ancestors() {
        let mut child = sample_parcel();
        child.id = Hash32([0x55; 32]);
        child.mine = None;
        child.parents = vec![sample_parcel().id];
        let view = Trace {
            parcel: child.id,
            parcels: vec![child, sample_parcel()],
            events: vec![],
        };
        let text = trace(&view);
        assert!(
            text.starts_with(&format!("parcel {}", "55".repeat(32))),
            "{text}"
        );
        assert!(text.contains("(several mines, merged)"), "{text}");
        assert!(
            text.contains(&format!(
                "  {}  origin BW  mine Jwaneng  1250.500 ct  HS 7102.10",
                "3f".repeat(32)
            )),
            "{text}"
        );
    }

    #[test]
    fn certificate_has_every_annex_i_field() {
        let cert = Certificate {
            number: "BW-2026-0001".into(),
            issuer: code("BW"),
            destination: code("EU"),
            exporter: PublicKey([1; 32]),
            importer: PublicKey([2; 32]),
            origins: vec![OriginShare {
                participant: code("BW"),
                milli_carats: 10_000,
            }],
            milli_carats: 10_000,
            value_cents: 150_000,
            parcels: vec![Hash32([3; 32])],
            hs_codes: vec![HsCode::UNSORTED],
            issued_on: 20_000,
            expires_on: 20_060,
            issued_height: 7,
            status: CertificateStatus::Discrepancy,
            receipt: Some(Receipt {
                milli_carats: 9_000,
                parcel_count: 1,
                received_on: 20_010,
                height: 9,
                matches: false,
            }),
        };
        let bw = Participant {
            code: code("BW"),
            name: "Botswana".into(),
            authority: PublicKey([7; 32]),
            validator: Some(PublicKey([8; 32])),
            status: ParticipantStatus::Active,
        };
        let participants = [bw];
        let ctx = CertificateContext {
            participants: &participants,
            exporter: None,
            importer: None,
        };
        let text = certificate(&cert, &ctx);
        for needle in [
            Certificate::TITLE,
            Certificate::STATEMENT,
            "Certificate number    BW-2026-0001",
            "Country of origin     Botswana (BW)",
            "Date of issue         2024-10-04",
            "Date of expiry        2024-12-03",
            "Issuing authority     Botswana (BW), authority key 0707",
            "Exporter              key 0101",
            "Importer              key 0202",
            "Destination           EU",
            "Carat weight          10.000 ct",
            "Value                 US$ 1500.00 (US$ 150.00/ct)",
            "Number of parcels     1",
            "HS code(s)            7102.10",
            "Validation            signed by the authority of BW",
            "DISCREPANCY",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
    }

    #[test]
    fn participants_show_validator_and_standing() {
        let list = [
            Participant {
                code: code("BW"),
                name: "Botswana".into(),
                authority: PublicKey([7; 32]),
                validator: Some(PublicKey([8; 32])),
                status: ParticipantStatus::Active,
            },
            Participant {
                code: code("CF"),
                name: "Central African Republic".into(),
                authority: PublicKey([9; 32]),
                validator: None,
                status: ParticipantStatus::Restricted {
                    zones: vec!["Boda".into(), "Nola".into()],
                },
            },
        ];
        let text = participants(&list);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "BW  Botswana                  authority 070707070707  validator 080808080808  active"
        );
        assert_eq!(
            lines[1],
            "CF  Central African Republic  authority 090909090909  no validator            \
             restricted to compliant zones: Boda, Nola"
        );
    }

    #[test]
    fn proposals_show_change_tally_and_state() {
        let mut open = ProposalView {
            id: Hash32([0x8e; 32]),
            change: ParticipantChange::Suspend {
                code: code("CF"),
                zones: vec!["Boda".into()],
            },
            proposer: code("BW"),
            proposed_height: 12,
            approvals: vec![code("BW"), code("EU")],
            counted: 2,
            active: 4,
            needed: 3,
            status: ProposalStatus::Open,
            blocked: None,
        };
        assert_eq!(
            proposals(std::slice::from_ref(&open)),
            "8e8e8e8e8e8e  suspend CF except its compliant zones Boda  (by BW at height 12; \
             approved by BW, EU); open: 2 of 4 active Participants approve, 3 needed\n"
        );
        open.blocked = Some(ApiError {
            code: "change_moot".into(),
            message: "CF is already restricted to compliant zones: Boda".into(),
        });
        assert!(
            proposal(&open).contains(
                "status     open, but cannot apply now: CF is already restricted to compliant \
                 zones: Boda (change_moot); 2 of 4"
            ),
            "{}",
            proposal(&open)
        );
        let executed = ProposalView {
            status: ProposalStatus::Executed {
                height: 14,
                approvals: 3,
                active: 4,
            },
            blocked: None,
            ..open
        };
        let text = proposal(&executed);
        assert!(text.contains("approved   by BW, EU"), "{text}");
        assert!(
            text.contains("status     applied at height 14 (3 of 4 active Participants approved)"),
            "{text}"
        );
        assert_eq!(proposals(&[]), "no open proposals\n");
    }
}

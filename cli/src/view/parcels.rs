//! Parcels and their history: `kp parcel show` and `kp trace`.

use std::fmt::Write as _;

use kp_ledger::model::{OriginShare, Parcel, ParcelStatus};
use kp_ledger::summary::{describe, short_id};
use kp_ledger::trace::{Event, Trace};
use kp_ledger::units::{day_of, Carats, Day};

use crate::view::units::value_line;

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
        short_id(&e.signer),
        short_id(&e.tx)
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

#[cfg(test)]
mod tests {
    use super::*;
    use kp_crypto::{Hash32, PublicKey};
    use kp_ledger::model::{HsCode, ParticipantCode, Role};
    use kp_ledger::tx::{Body, SplitOutput};

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
}

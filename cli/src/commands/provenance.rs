//! Provenance bundles: `kp trace --export` writes one, `kp trace --verify`
//! and `kp verify` check one against a genesis (see `docs/proofs.md`). The
//! checking is the ledger's own (`kp_ledger::bundle`); here are only the
//! files, the node and what is printed.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use anyhow::{Context, Result};
use kp_ledger::bundle::{Bundle, Verified};
use kp_ledger::genesis::Genesis;
use kp_wire::bundle_file::ReadBundle;

use crate::commands::Ctx;
use crate::failure::NotVerified;
use crate::output;
use crate::view;

/// `kp trace ID --verify` and/or `--export FILE`: the bundle of the parcel
/// `id` names, as the node builds it at its tip, checked against `genesis`
/// when asked (`Some(None)`: the node's own) before it is written, so that
/// a bundle that fails is never exported.
pub fn trace(
    ctx: &Ctx,
    id: &str,
    genesis: Option<Option<&Path>>,
    export_to: Option<&Path>,
) -> Result<()> {
    let text = ctx.client.bundle(id)?;
    let read = ReadBundle::parse(&text).map_err(NotVerified)?;
    if let Some(genesis) = genesis {
        let genesis = match genesis {
            Some(path) => read_genesis(path)?,
            None => {
                let genesis = ctx.client.genesis()?;
                output::note(&format!(
                    "checking against the node's own genesis ({}); pass --genesis FILE to \
                     check against a copy you trust",
                    genesis.hash()
                ));
                genesis
            }
        };
        verify_and_show(ctx, &read, &genesis)?;
    }
    if let Some(path) = export_to {
        export(&text, &read.bundle, path)?;
    }
    Ok(())
}

/// Writes the bundle file whole or not at all.
fn export(text: &str, bundle: &Bundle, path: &Path) -> Result<()> {
    kp_crypto::files::write_atomically(path, text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    let newest = bundle.headers.last().map_or(0, |h| h.header.height);
    output::note(&format!(
        "wrote the provenance bundle of parcel {} ({} parcels, {} transactions, {} blocks, \
         as of height {newest}) to {}; check it offline with `kp verify {} --genesis GENESIS`",
        bundle.parcel,
        bundle.parcels.len(),
        bundle.txs.len(),
        bundle.headers.len(),
        path.display(),
        path.display(),
    ));
    Ok(())
}

fn read_genesis(path: &Path) -> Result<Genesis> {
    let text =
        fs::read_to_string(path).with_context(|| format!("reading genesis {}", path.display()))?;
    Genesis::from_json(&text).with_context(|| format!("genesis {}", path.display()))
}

/// Checks `bundle` against `genesis` and prints what it establishes.
fn verify_and_show(ctx: &Ctx, bundle: &ReadBundle, genesis: &Genesis) -> Result<()> {
    let verified = bundle.verify(genesis).map_err(NotVerified)?;
    if ctx.json {
        return output::json(&verified);
    }
    output::stdout(&format!(
        "{}\n{}",
        summary(&verified),
        view::trace(&verified.trace)
    ));
    Ok(())
}

/// `kp verify FILE --genesis GENESIS`: no node involved.
pub fn verify_file(ctx: &Ctx, file: &Path, genesis: &Path) -> Result<()> {
    let genesis = read_genesis(genesis)?;
    let text =
        fs::read_to_string(file).with_context(|| format!("reading bundle {}", file.display()))?;
    let bundle = ReadBundle::parse(&text).map_err(NotVerified)?;
    verify_and_show(ctx, &bundle, &genesis)
}

/// What was checked, step by step, as `docs/proofs.md` names the steps.
fn summary(v: &Verified) -> String {
    let mut out = String::new();
    let trace = &v.trace;
    let _ = writeln!(
        out,
        "verified: parcel {} as of height {} ({}), chain {}, genesis {}",
        trace.parcel,
        v.height,
        view::date_time(v.time),
        v.chain_id,
        v.genesis
    );
    let changes = if v.set_changes.is_empty() {
        "unchanged since".to_owned()
    } else {
        let each: Vec<String> = v
            .set_changes
            .iter()
            .map(|(height, size)| format!("at height {height} (to {size})"))
            .collect();
        format!("changed {}", each.join(", "))
    };
    let _ = writeln!(
        out,
        "  validator sets  {} at genesis; {changes}",
        v.genesis_validators
    );
    let _ = writeln!(
        out,
        "  blocks          {} headers, each decided by more than two thirds of its set \
         ({} precommits)",
        v.headers, v.precommits
    );
    let _ = writeln!(
        out,
        "  transactions    {}, each at its place in its block, each signature good",
        v.txs
    );
    let _ = writeln!(
        out,
        "  parcels         {} records (the parcel and {} of its ancestry), each current at \
         height {} and holding exactly the events shown",
        trace.parcels.len(),
        trace.parcels.len().saturating_sub(1),
        v.height
    );
    out
}

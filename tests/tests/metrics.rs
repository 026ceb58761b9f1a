//! `GET /metrics` of a real `kpnode dev`, as Prometheus and people read it:
//! OpenMetrics to a scraper that asks for it, the classic text format
//! otherwise, each labelled as what it is, and no counter named `_total`
//! twice (the engine registers some with `_total` already). promtool checks
//! the text format in CI (`scripts/check-metrics.sh`).

use kp_tests::{agent, content_type, DevNode};

/// What Prometheus sends when it scrapes.
const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,\
     application/openmetrics-text;version=0.0.1;q=0.75,\
     text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// The content type and body of `GET /metrics`, with `accept` if given.
fn metrics(node: &DevNode, accept: Option<&str>) -> (String, String) {
    let url = format!("{}/metrics", node.url());
    let mut request = agent().get(&url);
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let mut response = request.call().expect("GET /metrics answers");
    assert_eq!(response.status().as_u16(), 200);
    let content_type = content_type(&response);
    let body = response.body_mut().read_to_string().expect("text");
    (content_type, body)
}

/// The counter families an exposition declares (`# TYPE NAME counter`).
fn counters(body: &str) -> Vec<&str> {
    body.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect()
}

#[test]
fn metrics_come_as_asked_for_with_every_counter_named_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = DevNode::start(&dir.path().join("node"), "BW,EU").expect("node");

    let (content_type, text) = metrics(&node, None);
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    assert!(
        text.contains("malachitebft_"),
        "no engine metrics in:\n{text}"
    );
    assert!(
        text.contains("# TYPE kp_txs_committed_total counter\nkp_txs_committed_total "),
        "{text}"
    );
    assert!(!text.contains("_total_total"), "{text}");
    assert!(
        !text.contains("# EOF") && !text.contains("# UNIT"),
        "{text}"
    );
    // In the text format a counter's family is named as its sample.
    let counted = counters(&text);
    assert!(!counted.is_empty());
    for family in counted {
        assert!(family.ends_with("_total"), "counter {family} in:\n{text}");
    }

    let (content_type, open_metrics) = metrics(&node, Some(PROMETHEUS_ACCEPT));
    assert_eq!(
        content_type,
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    assert!(open_metrics.ends_with("# EOF\n"), "{open_metrics}");
    assert!(!open_metrics.contains("_total_total"), "{open_metrics}");
    assert!(
        open_metrics.contains("# TYPE kp_txs_committed counter\nkp_txs_committed_total "),
        "{open_metrics}"
    );
    // In OpenMetrics a counter's family is named without the suffix.
    for family in counters(&open_metrics) {
        assert!(
            !family.ends_with("_total"),
            "counter {family} in:\n{open_metrics}"
        );
    }
}

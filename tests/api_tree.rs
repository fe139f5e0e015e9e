//! The typed catalog tree behaves as a `Chain` everywhere a chain is used: verbs, `prepare`,
//! indexing, `seg`/`chain` to leave the tree, equality both ways, Debug and Display.

mod support;

use wechatpay_chain::api::{self, Node};
use wechatpay_chain::{Chain, Method, Options};

#[test]
fn a_node_is_its_chain() {
    let wxpay = support::client();
    let node: api::V3PayTransactionsNative = wxpay.v3().pay().transactions().native();
    let chain = wxpay.chain("v3/pay/transactions/native");
    assert_eq!(node, chain);
    assert_eq!(chain, node);
    assert_eq!(node, wxpay.v3().pay().transactions().native());
    assert_ne!(chain, wxpay.v3().pay().transactions().jsapi());
    assert_eq!(
        api::V3PayTransactionsNative::TEMPLATE,
        "v3/pay/transactions/native"
    );
    assert_eq!(format!("{node:?}"), format!("{chain:?}"));
    assert_eq!(node.to_string(), "v3/pay/transactions/native");
    // Display through the chain (`to_string()` above auto-derefs; `{}` needs the `*`).
    assert_eq!(format!("{}", *node), chain.to_string());
    let back: Chain = node.clone().into();
    assert_eq!(back, chain);
    assert_eq!(node.clone().into_chain(), chain);
}

#[test]
fn verbs_prepare_and_indexing_work_through_the_node() {
    let wxpay = support::client();
    let node = wxpay.v3().refund().domestic().refunds();
    let prepared = node
        .prepare(Method::POST, Options::new().json(serde_json::json!({})))
        .unwrap();
    assert_eq!(prepared.target(), "/v3/refund/domestic/refunds");
    // Indexing auto-derefs to the chain and is relative to the node.
    let indexed: &Chain = &wxpay.v3()["refund/domestic/refunds"];
    assert_eq!(indexed, &Chain::from(node.clone()));
    let child = &node["{out_refund_no}"];
    assert_eq!(*child, node._out_refund_no_());
    // Dynamic continuations leave the tree and return plain chains.
    let dynamic: Chain = node.seg("_out_refund_no_");
    assert_eq!(dynamic, node._out_refund_no_());
    let dynamic: Chain = wxpay.v3().chain("refund/domestic/refunds/{out_refund_no}");
    assert_eq!(dynamic, node._out_refund_no_());
}

#[test]
fn verb_named_segments_and_the_trailing_slash_keep_their_meaning() {
    let wxpay = support::client();
    // The catalog's `delete` segment is `delete_()`; `delete()` stays the verb.
    let receivers = wxpay.v3().brand().profitsharing().receivers();
    assert_eq!(
        receivers.delete_().template().unwrap(),
        "v3/brand/profitsharing/receivers/delete"
    );
    let _verb = receivers.delete(());
    // `_empty_` appends the empty trailing segment (PHP's trailing-slash trick).
    let applyment = wxpay.v3().applyment4sub().applyment()._empty_();
    assert_eq!(applyment.template().unwrap(), "v3/applyment4sub/applyment/");
    assert_eq!(applyment, wxpay.chain("v3/applyment4sub/applyment/"));
    let prepared = applyment
        .prepare(Method::POST, Options::new().json(serde_json::json!({})))
        .unwrap();
    assert_eq!(prepared.target(), "/v3/applyment4sub/applyment/");
}

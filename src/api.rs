//! The endpoint catalog as a typed tree: the method form of the chain.
//!
//! Each node of the catalog (a path prefix of some endpoint, such as `v3/pay/transactions`)
//! is its own type, named by its path in CamelCase (placeholders as `By<Name>`):
//! [`V3`], [`V3Pay`], [`V3PayTransactions`], [`V3PayTransactionsNative`],
//! [`V3PayscorePartnerServiceorderByOutOrderNoSendPendingmessage`], … A node offers as methods
//! only the segments that follow it in the catalog, so a misplaced segment does not compile and
//! completion after `wxpay.v3().pay().` lists exactly what may come next. Method names are the
//! PHP/JS names in snake case (`send_pendingmessage()`); placeholders keep their PHP spelling
//! (`_out_order_no_()` appends `{out_order_no}`); a name that is also a verb gets a trailing `_`
//! (`delete_()`); `_empty_()` appends the empty trailing segment of a path ending in `/`.
//!
//! Browse the tree from the roots, [`V3`] (APIv3) and [`V2`] (APIv2: XML signed with the APIv2
//! key, the `v2` segment stripped when sent; see [`Options::xml`](crate::Options::xml)): each
//! node's page gives its template, the endpoints the catalog lists at exactly
//! that path (method, body type, base URI when it is not the default host) and its children.
//!
//! Every node dereferences to a [`Chain`], so it *is* a chain for everything else: the verbs
//! (`get`, `post`, `put`, `patch`, `delete`, `request`), [`Chain::prepare`],
//! [`Chain::blocking`], [`Chain::template`], indexing (`node["x/y"]`), and equality with the
//! same endpoint written in any other form. To leave the tree, for a path the catalog does not
//! have (yet), continue dynamically with [`Chain::seg`], [`Chain::chain`] or [`Chain::raw`]:
//! they return a plain [`Chain`]. [`Node::into_chain`] (or `Chain::from`) turns a node into a
//! `Chain` when one type is needed for several endpoints.
//!
//! ```
//! use wechatpay_chain::{api, Chain, Wechatpay};
//!
//! fn chains(wxpay: &Wechatpay) {
//!     let typed: api::V3RefundDomesticRefunds = wxpay.v3().refund().domestic().refunds();
//!     let declarative = wxpay.chain("v3/refund/domestic/refunds");
//!     assert_eq!(typed, declarative);
//!     assert_eq!(declarative, typed);
//!     assert_eq!(typed.template().unwrap(), "v3/refund/domestic/refunds");
//!     let _sent_later = typed.post(serde_json::json!({"json": {"out_refund_no": "R1"}}));
//!
//!     // Off the catalog: continue dynamically.
//!     let beta: Chain = wxpay.v3().refund().seg("newThing");
//!     assert_eq!(beta, wxpay.chain("v3/refund/new-thing"));
//!
//!     // Several endpoints under one type.
//!     let both: Vec<Chain> = vec![
//!         wxpay.v3().pay().transactions().native().into(),
//!         wxpay.v3().pay().transactions().jsapi().into(),
//!     ];
//!     assert_eq!(both[1], wxpay.chain("v3/pay/transactions/jsapi"));
//! }
//! ```
//!
//! A segment in the wrong place is a compile error. Refunds live under `v3/refund/domestic`,
//! not under `v3/refunds` (whose children are only `id` and `outRefundNo`):
//!
//! ```compile_fail,E0599
//! # fn demo(wxpay: &wechatpay_chain::Wechatpay) {
//! let refund = wxpay.v3().refunds().domestic();
//! # }
//! ```
//!
//! ```compile_fail,E0599
//! # fn demo(wxpay: &wechatpay_chain::Wechatpay) {
//! let jsapi_refund = wxpay.v3().refunds().jsapi();
//! # }
//! ```
//!
//! A plain [`Chain`] has no segment methods: once dynamic, a chain stays dynamic.
//!
//! ```compile_fail,E0599
//! # fn demo(wxpay: &wechatpay_chain::Wechatpay) {
//! let native = wxpay.chain("v3/pay").transactions();
//! # }
//! ```

use std::fmt;
use std::ops::Deref;

use crate::chain::Chain;

mod sealed {
    /// Keeps [`super::Node`] implemented by the generated nodes only.
    #[allow(unreachable_pub)] // the sealed-trait pattern: public, but nameable by nobody
    pub trait Sealed {}
}

/// What every node of the typed tree is: a [`Chain`] with a fixed catalog template.
///
/// Sealed: implemented by the generated node types only.
pub trait Node:
    sealed::Sealed + Clone + fmt::Debug + Deref<Target = Chain> + AsRef<Chain> + PartialEq<Chain>
{
    /// The node's path template as the catalog spells it (`v3/pay/transactions/id/{transaction_id}`).
    const TEMPLATE: &'static str;

    /// The node as a plain, dynamic [`Chain`].
    fn into_chain(self) -> Chain;
}

impl<N: Node> From<N> for Chain {
    /// The node's chain: `let chain: Chain = wxpay.v3().certificates().into();`.
    #[inline]
    fn from(node: N) -> Chain {
        node.into_chain()
    }
}

impl<N: Node> PartialEq<N> for Chain {
    /// A chain equals a node naming the same path (`chain == wxpay.v3().certificates()`).
    #[inline]
    fn eq(&self, node: &N) -> bool {
        self == node.as_ref()
    }
}

impl AsRef<Chain> for Chain {
    /// A chain is its own chain: lets nodes compare with chains and nodes alike.
    #[inline]
    fn as_ref(&self) -> &Chain {
        self
    }
}

/// One node type: the struct, its child methods and its impls. Everything is `#[inline]`, so
/// only what a program calls is compiled into it.
macro_rules! node {
    (
        $(#[$doc:meta])*
        $name:ident = $template:literal {
            $( $(#[$child_doc:meta])* $child:ident => $segment:literal, $child_type:ident; )*
        }
    ) => {
        $(#[$doc])*
        #[derive(Clone)]
        #[allow(non_camel_case_types)] // `Policy_Periods` beside `PolicyPeriods`, see build.rs
        #[must_use = "a chain does nothing until a verb (get/post/…) is called"]
        pub struct $name(pub(crate) Chain);

        impl $name {
            $(
                $(#[$child_doc])*
                #[allow(non_snake_case)] // camelCase kept where two segments snake alike
                #[inline]
                pub fn $child(&self) -> $child_type {
                    $child_type(self.0.catalog_segment(<$child_type as Node>::TEMPLATE, $segment))
                }
            )*
        }

        impl sealed::Sealed for $name {}

        impl Node for $name {
            const TEMPLATE: &'static str = $template;

            #[inline]
            fn into_chain(self) -> Chain {
                self.0
            }
        }

        impl Deref for $name {
            type Target = Chain;

            #[inline]
            fn deref(&self) -> &Chain {
                &self.0
            }
        }

        // Hidden: rustdoc would also list it on `Chain`'s page, once per node. [`Node`] has
        // `AsRef<Chain>` as a supertrait, which documents it once.
        #[doc(hidden)]
        impl AsRef<Chain> for $name {
            #[inline]
            fn as_ref(&self) -> &Chain {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            #[inline]
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }

        /// Equal to any chain or node naming the same path.
        impl<T: AsRef<Chain> + ?Sized> PartialEq<T> for $name {
            #[inline]
            fn eq(&self, other: &T) -> bool {
                self.0 == *other.as_ref()
            }
        }

        impl Eq for $name {}
    };
}

include!(concat!(env!("OUT_DIR"), "/api.rs"));

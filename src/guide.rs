//! Porting from PHP (`wechatpay-php`) and JS (`wechatpay-axios-plugin`): each task side by
//! side, and what behaves differently.
// The text lives in `guide.md` beside this file; its Rust examples run as doctests against
// the embedded sandbox (feature `sandbox`, on in CI's `--all-features` doctest run).
#![doc = include_str!("guide.md")]

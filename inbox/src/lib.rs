//! The referral inbox (see DESIGN.md).

//! The renkei prefecture tier (都道府県).
//!
//! Layout:
//! - [`survey`]: the national implementation-status survey: tallies per item (実施している /
//!   年度内に実施予定 / 実施していない with percentages of n), exports in the national format
//!   (CSV in UTF-8 with BOM or Shift_JIS, XLSX, JSON with a checksum) and the national merge of
//!   the prefectures' exports.
//!
//! The library never prints and never exits the process.

pub mod survey;

//! The leader's evaluation of an [`EvalWrite`] against the current item: the condition, the
//! update, the image to return and the sizes consumed capacity needs. Pure (sans-IO): the
//! shell reads the current item under a confirmed read index with no proposal of the same key
//! in flight, calls [`evaluate`], and proposes the resulting blind [`Command`] at once, so the
//! check and the write are atomic (`driver/shell/items.rs`).
//!
//! Invariants: a failed condition or an invalid update proposes nothing; an applied write's
//! reply carries DynamoDB's item sizes (`wire::item::item_size_bytes`) of the item before and
//! after (0 for no item); a stored item that does not decode is an error, never a guess.

use wire::expr::codec::{decode_condition, decode_update};
use wire::expr::{evaluate as holds, project};
use wire::forward::{EvalWrite, ItemReply, ReturnImage, WriteAction};
use wire::item::{Item, MAX_ITEM_BYTES, decode_item, encode_item, item_size_bytes};

use super::Command;

/// What the leader does with an evaluated write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Answer now; nothing is proposed.
    Reply(ItemReply),
    /// Propose `command`; answer `reply` once it is applied.
    Propose { command: Command, reply: ItemReply },
}

/// Why a write could not be evaluated (a corrupt blob or stored item: an internal error).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    #[error("stored item of the key does not decode: {0}")]
    StoredItem(String),
    #[error("expression blob does not decode: {0}")]
    Blob(String),
    #[error("the item sent does not decode: {0}")]
    SentItem(String),
}

const UPDATE_TOO_LARGE: &str = "Item size to update has exceeded the maximum allowed size";

fn size_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Evaluates `w` on the item stored at `key` (`old`: its stored bytes, `None` if absent).
pub fn evaluate(key: &[u8], w: &EvalWrite, old: Option<&[u8]>) -> Result<Decision, EvalError> {
    let old_item: Option<Item> = old
        .map(|b| decode_item(b).map_err(|e| EvalError::StoredItem(e.to_string())))
        .transpose()?;
    let old_bytes = size_u32(old_item.as_ref().map_or(0, item_size_bytes));
    if let Some(blob) = &w.condition {
        let cond = decode_condition(blob).map_err(|e| EvalError::Blob(e.to_string()))?;
        if !holds(&cond, old_item.as_ref()) {
            return Ok(Decision::Reply(ItemReply::ConditionFailed {
                old: old.filter(|_| w.old_on_failure).map(<[u8]>::to_vec),
                old_bytes,
            }));
        }
    }
    let old_image = || old.map(<[u8]>::to_vec);
    match &w.action {
        WriteAction::Put { item, size_bytes } => {
            let image = match w.returns {
                ReturnImage::AllOld => old_image(),
                _ => None,
            };
            Ok(Decision::Propose {
                command: Command::Put {
                    key: key.to_vec(),
                    value: item.clone(),
                },
                reply: ItemReply::Written {
                    image,
                    old_bytes,
                    new_bytes: *size_bytes,
                },
            })
        }
        WriteAction::Delete => {
            let image = match w.returns {
                ReturnImage::AllOld => old_image(),
                _ => None,
            };
            Ok(Decision::Propose {
                command: Command::Delete { key: key.to_vec() },
                reply: ItemReply::Written {
                    image,
                    old_bytes,
                    new_bytes: 0,
                },
            })
        }
        WriteAction::Update { update, key_item } => {
            let update = decode_update(update).map_err(|e| EvalError::Blob(e.to_string()))?;
            let base = match &old_item {
                Some(item) => item.clone(),
                None => decode_item(key_item).map_err(|e| EvalError::SentItem(e.to_string()))?,
            };
            let outcome = match update.apply(&base) {
                Ok(o) => o,
                Err(e) => return Ok(Decision::Reply(ItemReply::Invalid(e.to_string()))),
            };
            let new_size = item_size_bytes(&outcome.item);
            if new_size > MAX_ITEM_BYTES {
                return Ok(Decision::Reply(ItemReply::Invalid(
                    UPDATE_TOO_LARGE.to_owned(),
                )));
            }
            let value = encode_item(&outcome.item);
            let image = match w.returns {
                ReturnImage::None => None,
                ReturnImage::AllOld => old_image(),
                ReturnImage::AllNew => Some(value.clone()),
                ReturnImage::UpdatedOld => old_item
                    .as_ref()
                    .map(|o| project(o, &outcome.updated_paths))
                    .filter(|p| !p.is_empty())
                    .map(|p| encode_item(&p)),
                ReturnImage::UpdatedNew => Some(project(&outcome.item, &outcome.updated_paths))
                    .filter(|p| !p.is_empty())
                    .map(|p| encode_item(&p)),
            };
            Ok(Decision::Propose {
                command: Command::Put {
                    key: key.to_vec(),
                    value,
                },
                reply: ItemReply::Written {
                    image,
                    old_bytes,
                    new_bytes: size_u32(new_size),
                },
            })
        }
    }
}

#[cfg(test)]
#[path = "eval_tests.rs"]
mod tests;

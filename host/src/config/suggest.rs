//! "Did you mean" hints for unknown keys, types and names.

/// When to append the list of valid choices to a message.
pub(super) enum Listing {
    Always,
    WithoutSuggestion,
}

/// `head`, then a suggestion of the candidate nearest to `name` (if one is close), then
/// the candidates under `label` as `listing` asks.
pub(super) fn explain_unknown(
    head: &str,
    name: &str,
    candidates: &[&str],
    label: &str,
    listing: Listing,
) -> String {
    let suggestion = closest(name, candidates);
    let mut message = head.to_string();
    if let Some(nearest) = suggestion {
        message.push_str(&format!(" (did you mean {nearest:?}?)"));
    }
    if suggestion.is_none() || matches!(listing, Listing::Always) {
        message.push_str(&list(label, candidates));
    }
    message
}

fn closest<'c>(name: &str, candidates: &[&'c str]) -> Option<&'c str> {
    candidates
        .iter()
        .map(|candidate| (strsim::damerau_levenshtein(name, candidate), *candidate))
        .filter(|(distance, candidate)| *distance <= tolerated_distance(name, candidate))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// About one edit per three characters: catches typos without suggesting unrelated words.
fn tolerated_distance(name: &str, candidate: &str) -> usize {
    (name.chars().count().max(candidate.chars().count()) / 3).max(1)
}

fn list(label: &str, candidates: &[&str]) -> String {
    if candidates.is_empty() {
        format!("; no {label} defined")
    } else {
        format!("; {label}: {}", candidates.join(", "))
    }
}

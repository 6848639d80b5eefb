# ISO/IEC 27001:2022 Annex A controls checked when a model is promoted (catalog rows 27-38).
#
# ISO 27001 always applies. Every control reports exactly one result for every input: each
# control's rule is one else-chain that ends in a default, and `results` takes one value from
# each. Most controls first collect their findings as [subject, message] pairs and fail when
# there is any (`judged`), so a failure names everything wrong at once.
#
# The engines receive the input document as the schema dumps it: every field is present, and
# what is not known is null or an empty list. Nullable text is checked before a builtin sees it
# (OPA raises a type error on null where the embedded engine is merely undefined).
package governance.iso27001

import data.governance.lib
import rego.v1

results contains r if r := segregation_of_duties

results contains r if r := change_management

results contains r if r := cryptography

results contains r if r := secure_development

results contains r if r := security_testing

results contains r if r := vulnerabilities

results contains r if r := logging

results contains r if r := inventory

results contains r if r := masking

results contains r if r := separation

results contains r if r := legal_requirements

results contains r if r := evidence_collection

digest := input.model.digest

# The control's result from its findings ([subject, message] pairs): a fail naming every
# finding and what it is about, or a pass when there is none.
judged(id, findings, basis, pass_message, subjects, evidence) := lib.result(id, "fail", basis, message, failed, evidence) if {
	count(findings) > 0
	message := concat("; ", sort({f[1] | some f in findings}))
	failed := sort({f[0] | some f in findings})
} else := lib.result(id, "pass", basis, pass_message, subjects, evidence)

# Messages are joined with concat, never sprintf("%s", ...): the embedded engine (regopy 1.5.2)
# quotes a string that a builtin or a local assignment produced when sprintf formats it, so the
# two engines would word the same result differently. Numbers go through num().
num(n) := format_int(n, 10)

# A nullable text for a message: the text, or "unrecorded".
shown(v) := v if {
	is_string(v)
} else := "unrecorded"

# Who declared what a "declared" result rests on (dataset classifications), for its message.
declarers(datasets) := concat("; ", who) if {
	who := lib.declared_by(datasets)
	count(who) > 0
} else := "no declaration on record"

# Jobs whose runs built the model or what it was trained on (distance 0 is the model's node).
build_jobs := [j |
	some j in input.jobs
	j.distance >= 1
]

build_job_nodes := sort({j.node | some j in build_jobs})

# The ledger indexes behind the runs of the jobs that built the model, in lineage order. A run's
# evidence is its own events' entries, so runs share none and no set is needed: regopy builds a
# set in time quadratic in its size (300 indexes: about 26 ms). Nor sort(): regopy orders
# numbers in an array as text ([100, 510, 52, 9]), and the engines would disagree.
build_run_evidence := [i | some j in build_jobs; some r in j.runs; some i in r.evidence]

# Who may let the model through, and on which change record: A.5.3 and A.8.32.
package governance.iso27001

import data.governance.lib
import rego.v1

# --- A.5.3 Segregation of duties -----------------------------------------------------------------

# Distinct approvals the target environment needs (config min_approvers, "*" as the fallback).
min_approvers := n if {
	n := lib.config.min_approvers[input.target.environment]
	is_number(n)
} else := n if {
	n := lib.config.min_approvers["*"]
	is_number(n)
} else := 1

# Who may not approve this promotion, and why (A.5.3): whoever asked for it or started the
# pipeline, wrote the model, or submitted its training run (a run of a job at distance <= 1).
conflict := ((requester | initiator) | authors) | submitters if {
	requester := {[input.requested_by, "the requester"]}
	initiator := {[input.initiator, "the initiator"] | input.initiator != null}
	authors := {[p, "an author of the model"] | some p in input.model.authors}
	submitters := {[p, "a submitter of the training run"] |
		some j in input.jobs
		j.distance <= 1
		some r in j.runs
		some p in r.submitted_by
	}
}

conflicted := {c[0] | some c in conflict}

# An approver who rejected the promotion after approving it has withdrawn that approval.
withdrawn := {a.index |
	some a in input.approvals
	a.decision == "approve"
	some b in input.approvals
	b.decision == "reject"
	b.approver == a.approver
	b.index > a.index
}

standing := {[a.approver, a.index] |
	some a in input.approvals
	a.decision == "approve"
	not a.index in withdrawn
}

approvers := {s[0] | some s in standing}

counted_approvers := approvers - conflicted

# Approvals that do not count, each with the reasons: said in the message either way.
uncounted_text := concat("", ["; not counted, since they may not approve their own work: ", concat("; ", notes)]) if {
	names := approvers & conflicted
	count(names) > 0
	notes := sort([note |
		some p in names
		roles := sort({c[1] | some c in conflict; c[0] == p})
		note := concat("", [p, " (", concat(", ", roles), ")"])
	])
} else := ""

withdrawn_text := concat("", ["; withdrawn by a later rejection: ", concat(", ", sort(names))]) if {
	names := {a.approver | some a in input.approvals; a.index in withdrawn} - approvers
	count(names) > 0
} else := ""

# A waiver signed by the person who asked for the promotion is self-approval: the gate ignores
# it, and A.5.3 reports it, whether or not it has expired.
self_waivers := [w |
	some w in input.waivers
	w.approver in {input.requested_by, input.initiator}
]

sod_findings := too_few | self_approved if {
	n := count(counted_approvers)
	too_few := {[digest, msg] |
		n < min_approvers
		msg := concat("", [num(n), " independent approval(s) of the promotion to ", input.target.environment, ", ", num(min_approvers), " required", uncounted_text, withdrawn_text])
	}
	self_approved := {[digest, msg] |
		some w in self_waivers
		msg := concat("", ["the waiver of ", w.control, " (entry ", num(w.index), ") was approved by ", w.approver, ", who requested or initiated this promotion"])
	}
}

sod_pass_message := concat("", [num(count(counted_approvers)), " independent approval(s) of the promotion to ", input.target.environment, " (", concat(", ", sort(counted_approvers)), "), ", num(min_approvers), " required", uncounted_text])

# Every approval or rejection on record bears on the result, and so do self-approved waivers.
sod_evidence := sort({a.index | some a in input.approvals} | {w.index | some w in self_waivers})

segregation_of_duties := judged("iso-a5.3", sod_findings, "verified", sod_pass_message, [digest], sod_evidence)

# --- A.8.32 Change management --------------------------------------------------------------------

change_findings := ((unapproved | untimed) | late) | other_artifact if {
	change := input.change
	unapproved := {[digest, msg] |
		change.status != "approved"
		msg := concat("", ["change ", change.ref, " is ", shown(change.status), ", not approved"])
	}
	untimed := {[digest, msg] |
		change.approved_at == null
		msg := concat("", ["change ", change.ref, " records no approval time"])
	}
	late := {[digest, msg] |
		is_string(change.approved_at)
		change.approved_at > input.evaluated_at
		msg := concat("", ["change ", change.ref, " was approved at ", change.approved_at, ", after the decision's time ", input.evaluated_at])
	}

	# A change record that names a digest approved that artifact only.
	other_artifact := {[digest, msg] |
		is_string(change.digest)
		change.digest != digest
		msg := concat("", ["change ", change.ref, " approves the artifact ", change.digest, ", not the promoted ", digest])
	}
}

change_pass_message := concat("", ["change ", input.change.ref, " was approved at ", shown(input.change.approved_at), scope]) if {
	input.change.digest == digest
	scope := concat("", [" for the promoted digest ", digest])
} else := concat("", ["change ", input.change.ref, " was approved at ", shown(input.change.approved_at), " (it names no digest)"]) if {
	input.change != null
} else := ""

# The change record carries no ledger index in the input document, so no evidence is cited.
change_management := lib.result("iso-a8.32", "fail", "verified", "the promotion refers to no change record", [digest], []) if {
	input.change == null
} else := judged("iso-a8.32", change_findings, "verified", change_pass_message, [digest], [])

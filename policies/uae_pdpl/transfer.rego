# PDPL Arts. 22 and 23: personal data leaves the UAE only to a destination the Data Office
# approved (Art. 22: legislation on personal data protection there, or a bilateral or
# multilateral agreement), or in one of the cases of Art. 23 (a contract binding the foreign
# entity to the PDPL's controls, express consent, performance of a contract, judicial proceedings
# or cooperation, public interest).
package governance.uae_pdpl

import data.governance.lib
import rego.v1

uae := "AE"

# Art. 22 destinations. No official list has been published, so the configured list is empty by
# default and a pdpl_art22 basis covers no destination until an operator fills it in.
approved_destinations := {upper(c) | some c in lib.config.pdpl_approved_destinations}

approved_text := concat(", ", sort([c | some c in approved_destinations])) if {
	count(approved_destinations) > 0
} else := "empty, as no official list is published"

# Where a job runs (location.country, upper-cased), or "" when not recorded.
pdpl_job_country(j) := c if {
	is_object(j.location)
	v := object.get(j.location, "country", null)
	lib.recorded(v)
	c := upper(v)
} else := ""

# A transfer basis's mechanism, lower-cased: pdpl_art22 / pdpl_art23, or a variant of either with
# a suffix naming the case (pdpl_art23_contract).
pdpl_mechanism(b) := m if {
	t := lib.text(b.mechanism)
	m := lower(t)
}

pdpl_art22_basis(b) if {
	m := pdpl_mechanism(b)
	m == "pdpl_art22"
}

pdpl_art22_basis(b) if {
	m := pdpl_mechanism(b)
	startswith(m, "pdpl_art22_")
}

pdpl_art23_basis(b) if {
	m := pdpl_mechanism(b)
	m == "pdpl_art23"
}

pdpl_art23_basis(b) if {
	m := pdpl_mechanism(b)
	startswith(m, "pdpl_art23_")
}

# A basis that covers a transfer to `country`: an Art. 22 destination on the approved list, or an
# Art. 23 case with the reference to its contract, consent or proceedings. That the contract
# really binds the foreign entity is declared, not verified.
pdpl_valid_basis(b, country, approved) if {
	pdpl_art22_basis(b)
	country in approved
}

pdpl_valid_basis(b, country, approved) if {
	pdpl_art23_basis(b)
	lib.recorded(b.ref)
}

pdpl_transferable(f, country, approved) if {
	some b in f.transfer
	pdpl_valid_basis(b, country, approved)
}

# Why a basis recorded for a dataset does not cover its transfer.
pdpl_basis_note(b, country, approved, approved_list) := t if {
	pdpl_art22_basis(b)
	not country in approved
	t := concat("", [b.mechanism, ": ", country, " is not a destination approved under Art. 22 (config pdpl_approved_destinations: ", approved_list, ")"])
} else := t if {
	pdpl_art23_basis(b)
	t := concat("", [b.mechanism, ": no ref to the Art. 23 contract, consent or case"])
} else := t if {
	t := concat("", [b.mechanism, ": not a PDPL Art. 22/23 basis"])
}

pdpl_transfer_notes(f) := t if {
	count(f.transfer) > 0
	notes := [n |
		some b in f.transfer
		n := pdpl_basis_note(b, f.country, approved_destinations, approved_text)
	]
	t := concat("; ", notes)
} else := "no transfer basis recorded"

# Datasets in scope stored outside the UAE, and jobs that run outside it.
abroad := [f |
	some f in facts
	not f.country in {"", uae}
]

jobs_abroad := [j |
	in_scope
	some j in input.jobs
	country := pdpl_job_country(j)
	not country in {"", uae}
]

unlocated := [p |
	some f in facts
	f.country == ""
	p := pdpl_problem([f.node], "no storage location (location.country) is recorded: whether the data leaves the UAE cannot be determined", f.evidence)
]

uncovered := [p |
	some f in abroad
	not pdpl_transferable(f, f.country, approved_destinations)
	notes := pdpl_transfer_notes(f)
	why := concat("", ["stored in ", f.country, ", outside the UAE, without a PDPL transfer basis that covers it (", notes, ")"])
	p := pdpl_problem([f.node], why, f.evidence)
]

# A job that runs outside the UAE transfers what it processes. The input does not say which job
# read which dataset, so each such job is taken to process every AE personal dataset in scope.
uncovered_jobs := [p |
	some j in jobs_abroad
	country := pdpl_job_country(j)
	lacking := sort([f.node |
		some f in facts
		not pdpl_transferable(f, country, approved_destinations)
	])
	count(lacking) > 0
	names := concat(", ", lacking)
	why := concat("", ["runs in ", country, ", outside the UAE, on AE personal data without a PDPL transfer basis that covers it (", names, ")"])
	evidence := sort({i | some run in j.runs; some i in run.evidence})
	p := pdpl_problem([j.node], why, evidence)
]

art22_23_problems := array.concat(array.concat(unlocated, uncovered), uncovered_jobs)

art22_23 := r if {
	in_scope
	count(art22_23_problems) > 0
	r := pdpl_failed("pdpl-art22-23", art22_23_problems, "UAE personal data leaves the UAE without an Art. 22 or Art. 23 basis")
} else := r if {
	# Data that stays in the UAE needs no basis: the pass is verified from the locations.
	in_scope
	count(abroad) == 0
	count(jobs_abroad) == 0
	r := pdpl_passed("pdpl-art22-23", "verified", "All AE personal data is stored and processed in the UAE; no cross-border transfer")
} else := r if {
	# A transfer rests on a declared contract or case (Art. 23), or on the configured list
	# (Art. 22): the pass is as good as that declaration.
	in_scope
	stored := [x | some f in abroad; x := pdpl_transfer_text(f)]
	run := [x |
		some j in jobs_abroad
		country := pdpl_job_country(j)
		x := concat("", [j.node, ": runs in ", country])
	]
	transfers := concat("; ", sort(array.concat(stored, run)))
	message := concat("", ["AE personal data leaves the UAE only under a PDPL transfer basis that covers it (", transfers, "), declared by ", scoped_declarants, "; that an Art. 23 contract binds the foreign entity is that declaration, not verified"])
	r := pdpl_passed("pdpl-art22-23", "declared", message)
} else := pdpl_out_of_scope("pdpl-art22-23")

pdpl_transfer_text(f) := t if {
	covering := concat(", ", [x |
		some b in f.transfer
		pdpl_valid_basis(b, f.country, approved_destinations)
		ref := lib.text(b.ref)
		x := concat("", [b.mechanism, " ", ref])
	])
	t := concat("", [f.node, ": stored in ", f.country, " under ", covering])
}

# UAE Federal Decree-Law No. 45 of 2021 on the Protection of Personal Data (PDPL): one result
# per control of the catalog's uae_pdpl framework, for every input.
#
# The gate evaluates this package only when some personal data upstream of the model has a PDPL
# jurisdiction (AE) and is not of a sector Art. 2 leaves to its own law. The rules check the
# datasets in that scope (`facts`): personal, AE, not of an excluded sector. A dataset whose
# sector the configuration does not know stays in scope (the gate does not exclude it either),
# and pdpl-art2 reports that its scope could not be determined.
#
# Written for the embedded engine's costs and faults, as measured (regopy 1.5.2):
# - a collection of whole dataset objects is expensive to build, so each dataset is read once
#   into a small record, and each control finds its problems in as few passes as it can;
# - regex.match costs ~0.1 ms a call: it guards only the one time that is parsed;
# - sprintf("%s") of a computed string comes back quoted and unescaped (the decision is no
#   longer JSON), and "%d" wraps at 32 bits: text is joined with concat, numbers go through
#   format_int, and sprintf formats only booleans and null ("%v");
# - min(), max() and sort() of an array order numbers as text: none is used on numbers (sets of
#   numbers are ordered right);
# - trim_space returns text whose control characters are left unescaped in the decision: it is
#   not used on anything a message may quote;
# - two packages defining functions of one name with different arities crash the compiler (the
#   gate has failed/1): every function here is named pdpl_*.
#
# Files by theme: this one (the records, scope and Art. 2, the results), lawfulness.rego
# (Arts. 4, 5, 7), rights.rego (Arts. 9, 15-17, 18), security.rego (Arts. 10, 20, 21),
# transfer.rego (Arts. 22-23).
package governance.uae_pdpl

import data.governance.lib
import rego.v1

results contains r if {
	some r in [art2, art4, art5, art7, art9, art10, art15_17, art18, art20, art21, art22_23]
}

# --- what the rules read of each dataset --------------------------------------------------------

pdpl_jurisdictions := {upper(j) | some j in lib.config.pdpl_jurisdictions}

excluded_sectors := {lower(s) | some s in lib.config.pdpl_excluded_sectors}

# One small record per personal dataset upstream of the model, with what the rules read of it.
# The sector is lower-cased and untrimmed, as the gate reads it ("" when none).
personal_facts := [f |
	some d in lib.personal_datasets
	c := pdpl_classification(d)
	js := lib.jurisdictions(d)
	ae := count(js & pdpl_jurisdictions) > 0
	jurisdictions := count(js)
	sector := pdpl_sector(c)
	basis := pdpl_word(c, "pdpl_basis")
	lawful := pdpl_word(c, "lawful_basis")
	consent := object.get(c, "consent_ref", null)
	purposes := pdpl_list(c, "purposes")
	compatibility := object.get(c, "compatibility_ref", null)
	anonymised := object.get(c, "anonymised", false)
	collected := object.get(c, "collected_at", null)
	days := object.get(c, "retention_days", null)
	ropa := object.get(c, "ropa_ref", null)
	processor := object.get(c, "processor", null)
	encrypted := object.get(c, "encryption_at_rest", null)
	pseudonymised := object.get(c, "pseudonymised", null)
	access := object.get(c, "access_policy_ref", null)
	country := pdpl_country(c)
	transfer := pdpl_list(c, "transfer")
	sensitive := pdpl_sensitive(d, c)
	f := {
		"node": d.node,
		"evidence": d.evidence,
		"snapshot_time": d.snapshot_time,
		"declaration": d.declaration,
		"ae": ae,
		"jurisdictions": jurisdictions,
		"sector": sector,
		"pdpl_basis": basis,
		"lawful_basis": lawful,
		"consent_ref": consent,
		"purposes": purposes,
		"compatibility_ref": compatibility,
		"anonymised": anonymised,
		"collected_at": collected,
		"retention_days": days,
		"ropa_ref": ropa,
		"processor": processor,
		"encryption_at_rest": encrypted,
		"pseudonymised": pseudonymised,
		"access_policy_ref": access,
		"country": country,
		"transfer": transfer,
		"sensitive": sensitive,
	}
]

# The datasets every other PDPL rule checks: personal data of UAE data subjects, not excluded.
facts := [f |
	some f in personal_facts
	f.ae
	not f.sector in excluded_sectors
]

in_scope if count(facts) > 0

scoped_subjects := sort([f.node | some f in facts])

scoped_evidence := sort({i | some f in facts; some i in f.evidence})

scoped_nodes := {f.node | some f in facts}

# Who declared the datasets in scope and when (their classification entries), for "declared"
# results.
scoped_declarants := pdpl_declarants(facts)

sensitive_facts := [f |
	some f in facts
	f.sensitive
]

# A dataset's classification, or {} when it has none.
pdpl_classification(d) := c if {
	is_object(d.classification)
	c := d.classification
} else := {}

# The sector a classification declares, lower-cased and untrimmed as the gate reads it.
pdpl_sector(c) := s if {
	v := object.get(c, "sector", null)
	t := lib.text(v)
	s := lower(t)
}

# A text field, lower-cased ("" when absent, blank or not text). Not trimmed: the embedded
# engine leaves control characters unescaped in what trim_space returns, and the value may end
# up in a message.
pdpl_word(c, name) := w if {
	v := object.get(c, name, null)
	lib.recorded(v)
	w := lower(v)
} else := ""

# Where a dataset is stored: location.country, upper-cased, or "".
pdpl_country(c) := w if {
	loc := object.get(c, "location", null)
	is_object(loc)
	v := object.get(loc, "country", null)
	lib.recorded(v)
	w := upper(v)
} else := ""

# A list field, or [] when absent.
pdpl_list(c, name) := l if {
	l := object.get(c, name, [])
	is_array(l)
} else := []

# Sensitive personal data (PDPL Art. 1): special categories, criminal records, or data tagged
# special_category or sensitive, at dataset or field level.
pdpl_sensitive(d, c) := true if {
	c.special_category == true
} else := true if {
	c.criminal_offence == true
} else := true if {
	some tag in d.tags
	lib.tag_key(tag) in {"special_category", "special", "sensitive"}
} else := true if {
	some fl in d.fields
	some tag in fl.tags
	lib.tag_key(tag) in {"special_category", "special", "sensitive"}
} else := false

# Who declared the datasets `fs` (their classification entries), as lib.declared_by words it.
pdpl_declarants(fs) := t if {
	names := sort({line |
		some f in fs
		dec := f.declaration
		is_object(dec)
		lib.recorded(dec.declared_by)
		at := lib.text(dec.declared_at)
		entry := format_int(dec.index, 10)
		line := concat("", [dec.declared_by, " at ", at, " (entry ", entry, ")"])
	})
	t := pdpl_who_declared(names)
}

pdpl_who_declared(names) := t if {
	count(names) > 0
	t := concat("; ", names)
} else := "no declarant on record"

# --- scope (Art. 2) ----------------------------------------------------------------------------

# Art. 2(2): health and banking/credit data that have their own protection legislation,
# government data, and free zones with their own data protection law (DIFC, ADGM) are outside
# the PDPL.
excluded := [f |
	some f in personal_facts
	f.ae
	f.sector in excluded_sectors
]

# A dataset that names a sector the configuration does not know: its producer says some other
# law governs it, but whether Art. 2 excludes it cannot be decided, so it stays in scope. And
# personal data that records no jurisdiction at all: whether it concerns UAE data subjects, and
# so whether the PDPL covers it, cannot be decided.
art2_problems := array.concat(
	[p |
		some f in facts
		f.sector != ""
		why := concat("", ["declares sector '", f.sector, "', which config pdpl_excluded_sectors does not list: whether Art. 2 leaves it to its own legislation cannot be determined (checked as in scope)"])
		p := pdpl_problem([f.node], why, f.evidence)
	],
	[p |
		in_scope
		some f in personal_facts
		f.jurisdictions == 0
		why := "holds personal data but records no jurisdiction: whether it concerns UAE data subjects cannot be determined (not checked by the PDPL rules)"
		p := pdpl_problem([f.node], why, f.evidence)
	],
)

art2 := r if {
	count(art2_problems) > 0
	r := pdpl_failed("pdpl-art2", art2_problems, "The PDPL scope of personal data is undetermined")
} else := r if {
	in_scope
	names := concat(", ", scoped_subjects)
	out := excluded_text
	message := concat("", ["PDPL applies to the AE personal datasets ", names, "; excluded by Art. 2 as governed by their own legislation: ", out])
	checked := array.concat(facts, excluded)
	subjects := sort([f.node | some f in checked])
	evidence := sort({i | some f in checked; some i in f.evidence})
	r := lib.result("pdpl-art2", "pass", "verified", message, subjects, evidence)
} else := pdpl_out_of_scope("pdpl-art2")

excluded_text := concat(", ", sort([t |
	some f in excluded
	t := concat("", [f.node, " (", f.sector, ")"])
])) if {
	count(excluded) > 0
} else := "none"

# --- results -------------------------------------------------------------------------------------

# What a control found wrong: the nodes (or the model digest) it is about, why, and the ledger
# indexes that say so.
pdpl_problem(nodes, why, evidence) := {"nodes": nodes, "why": why, "evidence": evidence}

# A problem with the model itself: about its digest, named by its name and version.
pdpl_model_problem(why) := {"nodes": [input.model.digest], "label": model_label, "why": why, "evidence": []}

model_label := concat("", ["model ", input.model.name, " version ", input.model.version])

pdpl_problem_name(p) := name if {
	name := p.label
} else := name if {
	name := concat(", ", p.nodes)
}

# A failing result naming each problem (what is missing is verified absent from the input).
pdpl_failed(id, problems, intro) := r if {
	lines := sort([line |
		some p in problems
		name := pdpl_problem_name(p)
		line := concat("", [name, ": ", p.why])
	])
	details := concat("; ", lines)
	text := concat("", [intro, ". ", details])
	subjects := sort({n | some p in problems; some n in p.nodes})
	evidence := sort({i | some p in problems; some i in p.evidence})
	r := lib.result(id, "fail", "verified", text, subjects, evidence)
}

# A passing result about the datasets in scope.
pdpl_passed(id, basis, message) := lib.result(id, "pass", basis, message, scoped_subjects, scoped_evidence)

# What a control reports when no personal data of UAE data subjects is in the PDPL's scope (the
# gate does not evaluate the package then; a direct query still gets one result per control).
pdpl_out_of_scope(id) := lib.result(id, "not_applicable", "verified", "No personal data of UAE data subjects upstream of the model falls within the PDPL", [], [])

# An input time in the service's fixed-width form, checked before it is parsed: OPA fails the
# whole decision on a time it cannot parse, where the embedded engine leaves it undefined. (A
# day past its month's end, such as 02-30, still passes; the input schema does not pattern-check
# dataset times.) Only where a time is parsed: regex.match is slow in the embedded engine, and
# fixed-width times compare correctly as strings without it.
pdpl_is_time(t) if {
	is_string(t)
	regex.match(`^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{6}\+00:00$`, t)
}

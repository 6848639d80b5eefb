# Accountability records: the record of processing activities (Art. 30) and contracts with
# processors (Art. 28).
package governance.gdpr

import data.governance.lib
import rego.v1

results contains art30

results contains art28

# --- Art. 30(1): records of processing activities ----------------------------------------------

art30_problems := all if {
	part1 := {p |
		some i in governed_at
		d := input.datasets[i]
		c := d.classification
		is_object(c)
		ropa_ref := object.get(c, "ropa_ref", null)
		not lib.recorded(ropa_ref)
		p := {"node": d.node, "why": [d.node, ": no entry in the record of processing activities (ropa_ref, Art. 30(1))"]}
	}
	unclassified_part := {p |
		some n in unclassified
		p := {"node": n, "why": [n, ": no entry in the record of processing activities (ropa_ref, Art. 30(1))"]}
	}
	# The record names the purposes of the processing (Art. 30(1)(b)). The record itself is not in
	# the input; the purposes the dataset's classification declares stand for its entry's purposes.
	part2 := {p |
		model_purpose == ""
		some i in governed_at
		d := input.datasets[i]
		ref := d.classification.ropa_ref
		lib.recorded(ref)
		p := {"node": d.node, "why": [d.node, ": the model declares no purpose, so its record entry ", ref, " cannot be shown to cover it (Art. 30(1)(b))"]}
	}
	part3 := {p |
		model_purpose != ""
		some i in further_purpose_at
		d := input.datasets[i]
		ref := d.classification.ropa_ref
		lib.recorded(ref)
		p := {"node": d.node, "why": [d.node, ": the purposes recorded for its entry ", ref, " do not include \"", model_purpose, "\" (Art. 30(1)(b))"]}
	}
	all := ((part1 | part2) | part3) | unclassified_part
}

art30 := r if {
	count(governed) == 0
	r := not_applicable("gdpr-art30", "no personal data under the GDPR upstream of the model")
} else := r if {
	count(art30_problems) > 0
	r := failing("gdpr-art30", art30_problems)
} else := r if {
	listed := [s |
		some i in governed_at
		d := input.datasets[i]
		s := concat("", [d.node, ": ", d.classification.ropa_ref])
	]
	sorted := sort(listed)
	entries := concat(", ", sorted)
	msg := concat("", ["every personal dataset has a record of processing entry (", entries, ") whose purposes, as the datasets' classifications declare them, include \"", model_purpose, "\""])
	r := lib.result("gdpr-art30", "pass", "verified", msg, governed_subjects, governed_evidence)
}

# --- Art. 28(3): processors --------------------------------------------------------------------

# A job of the model's lineage that ran on a third party's platform, and governed data a third
# party holds: each needs a contract under Art. 28(3). Jobs are not tied to the datasets they
# read in the input, so every job of the lineage counts (it may handle the personal data).
processors := all if {
	jobs := {{"node": j.node, "processor": j.processor} |
		some j in input.jobs
		is_object(j.processor)
	}
	datasets := {{"node": d.node, "processor": d.classification.processor} |
		some i in governed_at
		d := input.datasets[i]
		is_object(d.classification.processor)
	}
	all := jobs | datasets
}

art28_problems := all if {
	all := {p |
		some x in processors
		agreement := object.get(x.processor, "dpa_ref", null)
		not lib.recorded(agreement)
		p := {"node": x.node, "why": [x.node, " runs on or is held by the processor ", x.processor.name, " with no data processing agreement recorded (dpa_ref, Art. 28(3))"]}
	}
}

art28 := r if {
	count(processors) == 0
	r := not_applicable("gdpr-art28", "no job or personal dataset of the model's lineage is recorded as run or held by a processor")
} else := r if {
	count(art28_problems) > 0
	r := failing("gdpr-art28", art28_problems)
} else := r if {
	listed := [s |
		some x in processors
		s := concat("", [x.node, ": ", x.processor.name, " under ", x.processor.dpa_ref])
	]
	sorted := sort(listed)
	agreements := concat(", ", sorted)
	msg := concat("", ["every processor has a data processing agreement on record (", agreements, ")"])
	nodes := {x.node | some x in processors}
	subjects := sort(nodes)
	ev := evidence_for(nodes)
	r := lib.result("gdpr-art28", "pass", "verified", msg, subjects, ev)
}

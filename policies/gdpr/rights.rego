# Data subjects' rights and the security of the data the model reads: erasure (Art. 17) and
# objection (Art. 21) honoured in it, encryption at rest (Art. 32(1)(a)), and breaches on it
# notified to the supervisory authority in time (Art. 33(1)).
package governance.gdpr

import data.governance.lib
import rego.v1

results contains art17_21

# Requests applied at least up to the time the version read was written: a request received
# later cannot be in that version's data.
watermarks := {
	"erasure": object.get(requests, "erasure_applied_through", null),
	"objection": object.get(requests, "objection_applied_through", null),
}

articles := {"erasure": "Art. 17", "objection": "Art. 21"}

art17_21_problems := all if {
	part1 := {p |
		some kind in ["erasure", "objection"]
		not is_string(watermarks[kind])
		some i in governed_at
		d := input.datasets[i]
		p := {"node": d.node, "why": [d.node, ": no ", kind, " watermark is recorded (requests.", kind, "_applied_through, ", articles[kind], ")"]}
	}
	part2 := {p |
		some i in governed_at
		d := input.datasets[i]
		snapshot := object.get(d, "snapshot_time", null)
		not is_string(snapshot)
		p := {"node": d.node, "why": [d.node, ": the version read has no snapshot time, so erasure and objection requests cannot be shown applied to it"]}
	}
	part3 := {p |
		some kind in ["erasure", "objection"]
		mark := watermarks[kind]
		is_string(mark)
		some i in governed_at
		d := input.datasets[i]
		is_string(d.snapshot_time)
		mark < d.snapshot_time
		p := {"node": d.node, "why": [d.node, ": ", kind, " requests are applied only through ", mark, ", before its snapshot of ", d.snapshot_time, " (", articles[kind], ")"]}
	}
	# Art. 32(1)(a): encryption of personal data; not recorded is not encrypted.
	part4 := {p |
		some i in governed_at
		d := input.datasets[i]
		d.classification.encryption_at_rest == false
		p := {"node": d.node, "why": [d.node, ": not encrypted at rest (Art. 32(1)(a))"]}
	}
	part4b := {p |
		some i in governed_at
		d := input.datasets[i]
		not d.classification.encryption_at_rest == true
		not d.classification.encryption_at_rest == false
		p := {"node": d.node, "why": [d.node, ": encryption at rest not recorded (encryption_at_rest, Art. 32(1)(a))"]}
	}
	part5 := {p |
		some b in breaches
		notified := object.get(b.incident, "authority_notified_at", null)
		not is_string(notified)
		some n in b.nodes
		p := {"node": n, "why": [n, ": a breach (", b.incident.type, ") the controller became aware of at ", b.incident.aware_at, " was never notified to the supervisory authority (Art. 33(1))"]}
	}
	part6 := {p |
		some b in breaches
		notified := b.incident.authority_notified_at
		is_string(notified)
		aware := lib.ns(b.incident.aware_at)
		late := lib.ns(notified)
		late > aware + ((notification_hours * 3600) * 1000000000)
		some n in b.nodes
		p := {"node": n, "why": [n, ": a breach (", b.incident.type, ") the controller became aware of at ", b.incident.aware_at, " was notified only at ", notified, ", later than ", notification_hours, " hours (Art. 33(1))"]}
	}
	all := (((((part1 | part2) | part3) | part4) | part5) | part6) | part4b
}

# Art. 33(1): a breach on data the model reads is notified to the supervisory authority without
# undue delay and within the configured hours (72) of becoming aware of it.
notification_hours := h if {
	h := lib.config.breach_notification_hours
	is_number(h)
} else := 72

breaches := [{"incident": i, "nodes": nodes} |
	some i in input.incidents
	nodes := sort([n | some n in i.affects; n in governed])
	count(nodes) > 0
]

art17_21 := r if {
	count(governed) == 0
	r := not_applicable("gdpr-art17-21", "no personal data under the GDPR upstream of the model")
} else := r if {
	count(art17_21_problems) > 0
	r := failing("gdpr-art17-21", art17_21_problems)
} else := r if {
	listed := names(governed)
	notified := breach_text(breaches)
	msg := concat("", ["erasure requests are applied through ", watermarks.erasure, " and objections through ", watermarks.objection, ", after every snapshot read; ", listed, " are encrypted at rest; ", notified])
	r := lib.result("gdpr-art17-21", "pass", "verified", msg, governed_subjects, governed_evidence)
}

breach_text(bs) := "no breach on record affects them" if {
	count(bs) == 0
} else := text if {
	n := count(bs)
	text := problem_text([n, " breach(es) affecting them were notified to the supervisory authority within ", notification_hours, " hours"])
}

"""The policy catalog as a report shows it: control families and the Statement of Applicability.

:func:`family` groups a control under its framework's chapter (GDPR), group of articles (UAE
PDPL) or Annex A theme (ISO 27001); :func:`statement_of_applicability` gives a row per Annex A
control the ISO controls cite, with applicability and justification from the configuration.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal, cast

from governance.errors import ConfigError
from governance.policy.bundle import Control
from reports import model
from reports.model import Framework

_ISO_THEMES = {
    "5": "A.5 Organizational controls",
    "6": "A.6 People controls",
    "7": "A.7 Physical controls",
    "8": "A.8 Technological controls",
}
_GDPR_CHAPTERS = (
    (1, 4, "Ch. I General provisions"),
    (5, 11, "Ch. II Principles"),
    (12, 23, "Ch. III Rights of the data subject"),
    (24, 43, "Ch. IV Controller and processor"),
    (44, 50, "Ch. V Transfers to third countries"),
)
# Groups of the Decree-Law's articles, named for what they govern.
_PDPL_GROUPS = (
    (1, 3, "Arts. 1–3 General provisions and scope"),
    (4, 6, "Arts. 4–6 Processing and consent"),
    (7, 12, "Arts. 7–12 Controller and processor obligations"),
    (13, 19, "Arts. 13–19 Rights of the data subject"),
    (20, 21, "Arts. 20–21 Security and impact assessment"),
    (22, 23, "Arts. 22–23 Cross-border transfer"),
)
_FRAMEWORK_LABEL = {"gdpr": "GDPR", "uae_pdpl": "PDPL", "iso27001": "ISO 27001"}


def family(framework: str, article: str) -> str:
    """The control family of an article, for the results-per-family chart.

    An ISO 27001 Annex A theme, a GDPR chapter, or a group of PDPL articles; the first article
    the control cites decides.
    """
    label = _FRAMEWORK_LABEL.get(framework, framework)
    if framework == "iso27001":
        found = re.search(r"A\.(\d+)", article)
        if found and found.group(1) in _ISO_THEMES:
            return f"{label} {_ISO_THEMES[found.group(1)]}"
    elif framework in ("gdpr", "uae_pdpl"):
        if framework == "gdpr" and article.startswith("Ch. V"):
            return f"{label} {_GDPR_CHAPTERS[-1][2]}"
        number = re.search(r"\d+", article)
        groups = _GDPR_CHAPTERS if framework == "gdpr" else _PDPL_GROUPS
        if number:
            for low, high, name in groups:
                if low <= int(number.group()) <= high:
                    return f"{label} {name}"
    return f"{label} other"


#: Every family :func:`family` names, in the order of the catalog's frameworks and articles.
FAMILY_ORDER = {
    name: rank
    for rank, name in enumerate(
        [f"GDPR {n}" for _, _, n in _GDPR_CHAPTERS]
        + [f"PDPL {n}" for _, _, n in _PDPL_GROUPS]
        + [f"ISO 27001 {n}" for n in _ISO_THEMES.values()]
    )
}


def catalog_control(control: Control) -> model.CatalogControl:
    """A bundle control as the report's catalog lists it, with its family."""
    return model.CatalogControl(
        control=control.id,
        framework=cast("Framework", control.framework),
        article=control.article,
        title=control.title,
        enforcement=cast("Literal['deny', 'warn']", control.enforcement),
        family=family(control.framework, control.article),
    )


def statement_of_applicability(
    controls: Sequence[model.CatalogControl], config: Mapping[str, Any]
) -> list[model.SoaEntry]:
    """The Statement of Applicability: one row per Annex A control an ISO control cites.

    Applicability and justification come from the configuration's ``soa`` (keyed by Annex A
    control, e.g. ``A.8.25``, or by the service's control id); without an entry a control is
    applicable, justified by the gate evaluating it on every promotion.
    """
    configured = config.get("soa") or {}
    if not isinstance(configured, Mapping):
        raise ConfigError("the policy configuration's soa must map Annex A controls to entries")
    rows = []
    for control in controls:
        if control.framework != "iso27001":
            continue
        refs = re.findall(r"A\.\d+\.\d+", control.article) or [control.article]
        titles = control.title.split("; ")
        if len(titles) != len(refs):
            titles = [control.title] * len(refs)
        for ref, title in zip(refs, titles, strict=True):
            entry = configured.get(ref) or configured.get(control.control) or {}
            if not isinstance(entry, Mapping):
                raise ConfigError(f"the policy configuration's soa entry for {ref} is no mapping")
            justification = entry.get("justification") or (
                f"Evaluated by the promotion gate on every model promotion as {control.control} "
                f"(enforcement {control.enforcement})."
            )
            rows.append(
                model.SoaEntry(
                    control=control.control,
                    annex_a=ref,
                    title=title[:1].upper() + title[1:],
                    applicable=bool(entry.get("applicable", True)),
                    justification=str(justification),
                    evaluated_by_service=True,
                )
            )
    return rows

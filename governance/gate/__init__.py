"""The promotion gate: evidence assembly, decisions, approvals, waivers and replay."""

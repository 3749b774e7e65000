# SPDX-License-Identifier: MIT
# The guest ABI summary (docs/PROTOCOL.md is normative).
dist_man_MANS += %reldir%/hcvsock.7

"""Helpers for the RTL engine tests: many parameterizations of a module in one Verilator build."""

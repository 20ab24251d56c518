"""RTL backend: a compiled nbq graph -> a streaming SystemVerilog network (hw/rtl engines, ROM tables)."""

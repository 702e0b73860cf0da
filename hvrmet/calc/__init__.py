"""The science as pure functions on quantities and xarray objects (MetPy style: units
checked, numpydoc). Tools, plots and nowcasting call into these modules; nothing here
knows about cases, tools or agents."""

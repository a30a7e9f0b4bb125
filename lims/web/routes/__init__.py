"""The pages of the web UI, one small module per area (assembled in lims.web.pages)."""

"""The WeChat channel arrives with a later issue."""

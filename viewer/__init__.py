"""The Flask side of the chat viewer: settings, views and the paging logic behind them."""

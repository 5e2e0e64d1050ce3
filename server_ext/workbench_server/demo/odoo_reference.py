"""Reference data for the demo company: word lists, countries, chart of accounts, journals,
products and staff. Plain constants so the generators stay short and the data easy to edit.
"""

ADJECTIVES = (
    "Blue Silver Golden Northern Red Green Summit Pacific Atlantic Granite Cedar Maple Oak "
    "River Harbor Prairie Coastal Iron Bright Clear Crescent Evergreen Falcon Lakeside Meadow "
    "Pioneer Sterling Sunrise Union Vertex"
).split()
NOUNS = (
    "Logistics Foods Systems Industries Supply Design Labs Works Partners Retail Energy Health "
    "Media Consulting Outfitters Builders Analytics Textiles Motors Goods Ventures Networks "
    "Solutions Trading Furniture"
).split()
FIRST_NAMES = (
    "Olivia Liam Emma Noah Ava Lucas Mia Ethan Sofia Mason Chloe Leo Grace Adam Nora Hugo "
    "Elena Samuel Léa Omar Julia Victor Hannah Felix Aisha Daniel Inès Marco Yuki Priya"
).split()
LAST_NAMES = (
    "Smith Johnson Garcia Martin Dubois Müller Rossi Novak Jensen Kowalski Silva Brown Lee "
    "Walker Young Peeters Janssen Schmidt Moreau López Wright Turner Fischer Bakker Ortiz "
    "Nguyen Patel Kim Costa Evans"
).split()
STREETS = "Main Oak Park Market Church Mill Station Bridge Harbor Elm Lake Hill".split()
STREET_KINDS = "Street Avenue Road Lane Boulevard".split()
# code: name, calling code, currency, VAT label, legal suffixes, tax id pattern, weight, cities
COUNTRIES: dict[str, tuple[str, int, str, str, str, str, int, str]] = {
    "US": ("United States", 1, "USD", "", "Inc.|LLC|Corp.", "", 55,
           "New York:10001|Chicago:60601|Austin:73301|Denver:80202|Seattle:98101|"
           "Boston:02108|Atlanta:30303|San Diego:92101"),
    "CA": ("Canada", 1, "CAD", "GST", "Ltd.|Inc.", "#########RT0001", 8,
           "Toronto:M5H 2N2|Vancouver:V6B 1A1|Montreal:H2Y 1C6"),
    "MX": ("Mexico", 52, "MXN", "RFC", "S.A. de C.V.", "AAA######XY1", 4,
           "Monterrey:64000|Guadalajara:44100"),
    "GB": ("United Kingdom", 44, "GBP", "VAT", "Ltd|PLC", "GB#########", 8,
           "London:EC1A 1BB|Manchester:M1 1AE|Leeds:LS1 4DY"),
    "DE": ("Germany", 49, "EUR", "USt", "GmbH|AG", "DE#########", 6,
           "Berlin:10115|Munich:80331|Hamburg:20095"),
    "FR": ("France", 33, "EUR", "TVA", "SAS|SARL", "FR###########", 5, "Paris:75002|Lyon:69002"),
    "BE": ("Belgium", 32, "EUR", "VAT", "SA|BV", "BE0#########", 5,
           "Brussels:1000|Antwerp:2000|Ramillies:1367"),
    "NL": ("Netherlands", 31, "EUR", "BTW", "B.V.", "NL#########B01", 4,
           "Amsterdam:1012 AB|Rotterdam:3011 AA"),
    "ES": ("Spain", 34, "EUR", "NIF", "S.L.|S.A.", "ESB########", 3,
           "Madrid:28001|Barcelona:08001"),
    "CH": ("Switzerland", 41, "CHF", "MWST", "AG|SA", "CHE#########", 2, "Zurich:8001|Geneva:1201"),
}  # fmt: skip
# name, full name, symbol, position, unit, subunit, active (Odoo activates only used ones)
CURRENCIES = (
    ("USD", "United States dollar", "$", "before", "Dollars", "Cents", True),
    ("EUR", "Euro", "€", "after", "Euros", "Cents", True),
    ("GBP", "Pound sterling", "£", "before", "Pounds", "Pence", False),
    ("CAD", "Canadian dollar", "$", "before", "Dollars", "Cents", False),
    ("MXN", "Mexican peso", "$", "before", "Pesos", "Centavos", False),
    ("CHF", "Swiss franc", "CHF", "after", "Francs", "Centimes", False),
)
# Odoo 17's generic chart (l10n_generic_coa) plus the sub-accounts a real finance team adds.
# "code type[*] name"; "*" marks accounts that allow reconciliation.
ACCOUNTS = """
101401 asset_cash Bank
101402 asset_current Bank Suspense Account
101403 asset_current* Outstanding Receipts
101404 asset_current* Outstanding Payments
101501 asset_cash Cash
101701 asset_current* Liquidity Transfer
110100 asset_current Stock Valuation
110200 asset_current* Stock Interim (Received)
110300 asset_current* Stock Interim (Delivered)
121000 asset_receivable* Account Receivable
121100 asset_receivable* Account Receivable (PoS)
131000 asset_current Tax Paid
132000 asset_current Tax Receivable
141000 asset_prepayments Prepayments
151000 asset_fixed Fixed Asset
151100 asset_fixed Office Equipment
151200 asset_fixed Vehicles
159000 asset_fixed Accumulated Depreciation
191000 asset_non_current Non-current assets
201000 liability_current Current Liabilities
211000 liability_payable* Account Payable
221000 liability_current Salaries Payable
231000 liability_credit_card Credit Card
251000 liability_current Tax Received
252000 liability_current Tax Payable
261000 liability_current Deferred Revenue
291000 liability_non_current Non-current Liabilities
292000 liability_non_current Bank Loan
301000 equity Capital
302000 equity Dividends
999999 equity_unaffected Undistributed Profits/Losses
400000 income Product Sales
400100 income Service Revenue
400200 income Consulting Revenue
400300 income Subscription Revenue
441000 income_other Foreign Exchange Gain
442000 income_other Cash Difference Gain
450000 income_other Other Income
500000 expense_direct_cost Cost of Goods Sold
500100 expense_direct_cost Freight In
600000 expense Expenses
611000 expense Purchase of Equipments
612000 expense Rent
613000 expense Utilities
614000 expense Office Supplies
615000 expense Software Subscriptions
616000 expense Insurance
617000 expense Professional Fees
618000 expense Marketing and Advertising
619000 expense Telephone and Internet
620000 expense Bank Fees
630000 expense Salary Expenses
630100 expense Payroll Taxes
640000 expense Travel and Accommodation
640100 expense Meals and Entertainment
640200 expense Mileage
641000 expense Foreign Exchange Loss
642000 expense Cash Difference Loss
650000 expense_depreciation Depreciation Expense
660000 expense Repairs and Maintenance
670000 expense Training
680000 expense Interest Expense
"""
# code, name, type, default account, suspense account, refund seq., payment seq.
JOURNALS = (
    ("INV", "Customer Invoices", "sale", "400000", None, True, False),
    ("BILL", "Vendor Bills", "purchase", "600000", None, True, False),
    ("MISC", "Miscellaneous Operations", "general", None, None, False, False),
    ("EXCH", "Exchange Difference", "general", None, None, False, False),
    ("BNK1", "Bank", "bank", "101401", "101402", False, True),
    ("CSH1", "Cash", "cash", "101501", "101402", False, True),
)
# "default_code kind type price account name": kind s = sold, p = purchased, e = expensed
PRODUCTS = """
FURN_0001 s consu 120.50 400000 Office Chair
FURN_0002 s consu 1799.00 400000 Large Desk
FURN_0003 s consu 855.00 400000 Corner Desk
FURN_0004 s consu 140.00 400000 Cabinet with Doors
FURN_0005 s consu 25.00 400000 Drawer Black
FURN_0006 s consu 15.80 400000 Storage Box
FURN_0007 s consu 295.00 400000 Acoustic Bloc Screens
FURN_0008 s consu 450.00 400000 Desk Combination
SERV_0001 s service 75.00 400100 Installation Service
SERV_0002 s service 150.00 400200 Office Design Consulting
SERV_0003 s service 49.00 400300 Maintenance Subscription
PURCH_0001 p consu 38.00 500000 Wood Panels
PURCH_0002 p consu 22.50 500000 Steel Frames
PURCH_0003 p service 180.00 500100 Freight
PURCH_0004 p consu 45.00 614000 Office Supplies
PURCH_0005 p service 320.00 615000 Cloud Hosting
PURCH_0006 p service 250.00 617000 Legal Advice
PURCH_0007 p service 500.00 618000 Online Advertising
PURCH_0008 p service 140.00 660000 Equipment Repair
PURCH_0009 p consu 1150.00 611000 Laptop
PURCH_0010 p service 600.00 670000 Training Course
FOOD e service 0.00 640100 Meals
TRANS_ACC e service 0.00 640000 Travel & Accommodation
COMM e service 0.00 619000 Communication
MIL e service 0.67 640200 Mileage
GIFT e service 0.00 600000 Gifts
EXP_GEN e service 0.00 600000 Others
"""
# department (parent), then "job title:monthly salary" -- the first one manages it
STAFF = (
    ("Management", None, "Chief Executive Officer:15000"),
    ("Administration", None, "Office Manager:5200|HR Officer:5000"),
    ("Finance", "Administration", "Chief Financial Officer:12500|Accountant:6200|"
     "Accounts Payable Clerk:4300|Financial Analyst:6800"),
    ("Sales", None, "Sales Manager:9000|Account Executive:6500|Account Executive:6400|"
     "Account Executive:6100"),
    ("Operations", None, "Operations Manager:8200|Warehouse Lead:4700|Logistics Coordinator:4600"),
    ("Research & Development", None, "R&D Manager:9800|Product Designer:7200|Data Engineer:8100"),
)  # fmt: skip

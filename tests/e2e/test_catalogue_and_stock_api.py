"""Catalogue, warehouse, channel and stock endpoints: lists, search, paging, transfers, the ledger."""


def test_products_are_searched_by_sku_name_or_barcode_and_paged(api):
    for i in range(5):
        api.product(f"MUG-{i}", name=f"Blue mug {i}")
    api.product("LAMP-1", name="Desk lamp", barcode="4006381333931")
    assert [p["sku"] for p in api.ok(api.get("/products", params={"q": "lamp"}))["items"]] == ["LAMP-1"]
    assert [p["sku"] for p in api.ok(api.get("/products", params={"q": "4006381333931"}))["items"]] == ["LAMP-1"]
    page1 = api.ok(api.get("/products", params={"q": "mug", "limit": 3}))
    page2 = api.ok(api.get("/products", params={"q": "mug", "limit": 3, "cursor": page1["next_cursor"]}))
    assert [p["sku"] for p in page1["items"] + page2["items"]] == [f"MUG-{i}" for i in range(5)]
    assert page2["next_cursor"] is None


def test_warehouses_bins_and_channels_are_listed_in_the_shape_of_every_list(api):
    api.warehouse("NJ1")
    api.warehouse("IL1", kind="store")
    api.ok(api.post("/warehouses/NJ1/bins", {"code": "A-01", "x_m": 3.0, "y_m": 1.2, "aisle": "A"}), 201)
    api.ok(api.post("/warehouses/NJ1/bins", {"code": "A-02", "x_m": 3.0, "y_m": 2.4, "aisle": "A"}), 201)
    dup = api.post("/warehouses/NJ1/bins", {"code": "A-01", "x_m": 0, "y_m": 0})
    assert dup.status_code == 409 and dup.json()["error"] == "already_exists"
    api.channel("web", warehouses=["IL1", "NJ1"])
    warehouses = api.ok(api.get("/warehouses"))
    assert set(warehouses) == {"items", "next_cursor"}
    assert [(w["code"], w["kind"]) for w in warehouses["items"]] == [("NJ1", "warehouse"), ("IL1", "store")]
    bins = api.ok(api.get("/warehouses/NJ1/bins", params={"limit": 1}))
    assert [b["code"] for b in bins["items"]] == ["A-01"] and bins["next_cursor"]
    channels = api.ok(api.get("/channels"))
    assert [(c["code"], c["warehouses"]) for c in channels["items"]] == [("web", ["IL1", "NJ1"])]
    assert api.ok(api.get("/channels/web"))["kind"] == "web"


def test_a_transfer_moves_stock_fills_backorders_at_the_destination_and_is_in_the_ledger(api):
    api.warehouse("NJ1")
    api.warehouse("IL1")
    api.product("LAMP-1", allow_backorder=True)
    api.channel("web", warehouses=["IL1"])
    api.ok(api.post("/warehouses/NJ1/bins", {"code": "A-01", "x_m": 1, "y_m": 1}), 201)
    api.receive("NJ1", "LAMP-1", 5, lines=[{"sku": "LAMP-1", "quantity": 5, "bin": "A-01"}])
    waiting = api.order([("LAMP-1", 2)])
    assert waiting["status"] == "backordered"
    moved = api.ok(
        api.post(
            "/inventory/transfers",
            {"from_warehouse": "NJ1", "to_warehouse": "IL1", "lines": [{"sku": "LAMP-1", "quantity": 3}]},
        ),
        201,
    )
    assert [(f["order_id"], f["quantity"]) for f in moved["backorders_filled"]] == [(waiting["id"], 2)]
    per = {w["warehouse"]: (w["on_hand"], w["reserved"]) for w in api.stock("LAMP-1")["warehouses"]}
    assert per == {"NJ1": (2, 0), "IL1": (3, 2)}
    il1 = api.ok(api.get("/inventory/movements", params={"warehouse": "IL1"}))["items"]
    assert [(m["kind"], m["delta_on_hand"], m["delta_reserved"]) for m in il1] == [
        ("reservation", 0, 2),
        ("transfer_in", 3, 0),
    ]
    nj1 = api.ok(api.get("/inventory/movements", params={"warehouse": "NJ1", "sku": "LAMP-1"}))["items"]
    assert [(m["kind"], m["bin"]) for m in nj1] == [("transfer_out", None), ("receipt", "A-01")]
    by_order = api.ok(api.get("/inventory/movements", params={"order_id": waiting["id"]}))["items"]
    assert [m["kind"] for m in by_order] == ["reservation"]

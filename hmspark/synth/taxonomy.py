"""Vocabulary of the generated catalogue: indexes, sections, product types, colours, patterns.

These are category names and codes in the style of the H&M catalogue (hand-written here, not
taken from any data file), with weights that shape the generated catalogue, typical price points
(price * 590, which makes most H&M prices end in .99), seasons and basic-ness of product types,
and the age profile of each index group used for customer tastes.
"""

from __future__ import annotations

# index_code -> (index_name, index_group_no, index_group_name, share of the catalogue)
INDEXES: dict[str, tuple[str, int, str, float]] = {
    "A": ("Ladieswear", 1, "Ladieswear", 0.246),
    "B": ("Lingeries/Tights", 1, "Ladieswear", 0.064),
    "C": ("Ladies Accessories", 1, "Ladieswear", 0.066),
    "D": ("Divided", 2, "Divided", 0.144),
    "F": ("Menswear", 3, "Menswear", 0.119),
    "G": ("Baby Sizes 50-98", 4, "Baby/Children", 0.084),
    "H": ("Children Sizes 92-140", 4, "Baby/Children", 0.114),
    "I": ("Children Sizes 134-170", 4, "Baby/Children", 0.087),
    "J": ("Children Accessories, Swimwear", 4, "Baby/Children", 0.044),
    "S": ("Sport", 26, "Sport", 0.032),
}

# index_group_name -> relative affinity at ages 16, 22, 30, 40, 50, 60, 75 (interpolated).
AGE_ANCHORS = (16, 22, 30, 40, 50, 60, 75)
AGE_AFFINITY: dict[str, tuple[float, ...]] = {
    "Ladieswear": (0.30, 0.38, 0.48, 0.55, 0.62, 0.66, 0.68),
    "Divided": (0.55, 0.45, 0.22, 0.10, 0.06, 0.04, 0.03),
    "Menswear": (0.05, 0.06, 0.08, 0.09, 0.10, 0.10, 0.09),
    "Baby/Children": (0.02, 0.03, 0.14, 0.18, 0.10, 0.12, 0.12),
    "Sport": (0.06, 0.06, 0.06, 0.05, 0.04, 0.03, 0.02),
}

# Sections per index: (section_no, section_name, weight, product groups it holds; None = the
# garment groups).
_GARMENTS = None
SECTIONS: dict[str, list[tuple[int, str, float, frozenset[str] | None]]] = {
    "A": [(15, "Womens Everyday Collection", 30, _GARMENTS),
          (11, "Womens Tailoring", 15, _GARMENTS), (16, "Womens Everyday Basics", 12, _GARMENTS),
          (6, "Womens Casual", 10, _GARMENTS), (18, "Womens Trend", 8, _GARMENTS),
          (19, "Womens Jackets", 5, _GARMENTS), (2, "H&M+", 6, _GARMENTS),
          (14, "Womens Premium", 5, _GARMENTS), (8, "Mama", 4, _GARMENTS),
          (82, "Special Collections", 2, _GARMENTS), (97, "Collaborations", 2, _GARMENTS),
          (57, "Ladies Denim", 3, _GARMENTS)],
    "B": [(61, "Womens Lingerie", 50, frozenset({"Underwear"})),
          (62, "Womens Nightwear, Socks & Tigh", 30,
           frozenset({"Nightwear", "Socks & Tights", "Underwear", "Garment Lower body"})),
          (60, "Womens Swimwear, beachwear", 20, frozenset({"Swimwear"}))],
    "C": [(64, "Womens Shoes", 30, frozenset({"Shoes"})),
          (65, "Womens Big accessories", 35, frozenset({"Accessories"})),
          (66, "Womens Small accessories", 35, frozenset({"Accessories"}))],
    "D": [(53, "Divided Collection", 45, _GARMENTS), (51, "Divided Basics", 15, _GARMENTS),
          (50, "Divided Projects", 10, _GARMENTS),
          (52, "Divided Accessories", 10, frozenset({"Accessories", "Shoes", "Underwear"})),
          (57, "Ladies Denim", 12, _GARMENTS), (58, "Divided Selected", 8, _GARMENTS)],
    "F": [(21, "Contemporary Casual", 20, _GARMENTS), (20, "Contemporary Smart", 15, _GARMENTS),
          (55, "Contemporary Street", 15, _GARMENTS),
          (26, "Men Underwear", 15, frozenset({"Underwear", "Socks & Tights"})),
          (56, "Denim Men", 10, _GARMENTS), (23, "Men Suits & Tailoring", 8, _GARMENTS),
          (31, "Mens Outerwear", 7, _GARMENTS),
          (25, "Men Accessories", 5, frozenset({"Accessories"})),
          (27, "Men Shoes", 5, frozenset({"Shoes"}))],
    "G": [(44, "Baby Essentials & Complements", 35, None), (40, "Baby Girl", 30, _GARMENTS),
          (41, "Baby Boy", 30, _GARMENTS), (42, "Kids & Baby Shoes", 5, frozenset({"Shoes"}))],
    "H": [(76, "Kids Girl", 35, _GARMENTS), (46, "Kids Boy", 30, _GARMENTS),
          (79, "Girls Underwear & Basics", 12,
           frozenset({"Underwear", "Socks & Tights", "Nightwear", "Garment Lower body"})),
          (72, "Boys Underwear & Basics", 10,
           frozenset({"Underwear", "Socks & Tights", "Nightwear", "Garment Upper body"})),
          (45, "Kids Outerwear", 8, _GARMENTS), (48, "Kids Local Relevance", 5, None)],
    "I": [(77, "Young Girl", 38, _GARMENTS), (47, "Young Boy", 30, _GARMENTS),
          (79, "Girls Underwear & Basics", 12,
           frozenset({"Underwear", "Socks & Tights", "Nightwear", "Garment Lower body"})),
          (72, "Boys Underwear & Basics", 10,
           frozenset({"Underwear", "Socks & Tights", "Nightwear", "Garment Upper body"})),
          (45, "Kids Outerwear", 10, _GARMENTS)],
    "J": [(43, "Kids Accessories, Swimwear & D", 60, None),
          (42, "Kids & Baby Shoes", 40, frozenset({"Shoes"}))],
    "S": [(5, "Ladies H&M Sport", 70, None), (22, "Men H&M Sport", 15, None),
          (49, "Kids Sports", 15, None)],
}
GARMENT_GROUPS = frozenset({"Garment Upper body", "Garment Lower body", "Garment Full body"})

# product_type_name -> (product_type_no, product_group_name, garment_group_no, price points,
#                       season: "summer" / "winter" / "", basic: likely evergreen and multi-unit)
PRODUCT_TYPES: dict[str, tuple[int, str, int, float, str, bool]] = {
    "Trousers": (272, "Garment Lower body", 1009, 24.99, "", False),
    "Sweater": (252, "Garment Upper body", 1003, 22.99, "winter", False),
    "Dress": (265, "Garment Full body", 1013, 24.99, "summer", False),
    "T-shirt": (255, "Garment Upper body", 1002, 8.99, "", True),
    "Top": (254, "Garment Upper body", 1005, 12.99, "", False),
    "Blouse": (258, "Garment Upper body", 1010, 19.99, "", False),
    "Shirt": (259, "Garment Upper body", 1011, 19.99, "", False),
    "Vest top": (253, "Garment Upper body", 1002, 6.99, "summer", True),
    "Skirt": (275, "Garment Lower body", 1012, 19.99, "summer", False),
    "Jacket": (262, "Garment Upper body", 1007, 39.99, "winter", False),
    "Coat": (263, "Garment Upper body", 1007, 59.99, "winter", False),
    "Blazer": (264, "Garment Upper body", 1008, 34.99, "", False),
    "Cardigan": (245, "Garment Upper body", 1003, 22.99, "winter", False),
    "Jumpsuit/Playsuit": (267, "Garment Full body", 1013, 24.99, "summer", False),
    "Shorts": (274, "Garment Lower body", 1025, 14.99, "summer", False),
    "Hoodie": (308, "Garment Upper body", 1005, 19.99, "winter", False),
    "Leggings/Tights": (273, "Garment Lower body", 1002, 11.99, "", True),
    "Bodysuit": (256, "Garment Upper body", 1002, 8.99, "", True),
    "Polo shirt": (257, "Garment Upper body", 1005, 14.99, "summer", False),
    "Garment Set": (270, "Garment Full body", 1006, 19.99, "", False),
    "Dungarees": (268, "Garment Full body", 1006, 19.99, "", False),
    "Bra": (306, "Underwear", 1017, 14.99, "", True),
    "Underwear bottom": (286, "Underwear", 1017, 5.99, "", True),
    "Underwear body": (283, "Underwear", 1017, 16.99, "", False),
    "Robe": (305, "Underwear", 1017, 24.99, "winter", False),
    "Underwear Tights": (304, "Socks & Tights", 1021, 6.99, "winter", True),
    "Socks": (302, "Socks & Tights", 1021, 4.99, "", True),
    "Bikini top": (298, "Swimwear", 1018, 12.99, "summer", False),
    "Swimwear bottom": (59, "Swimwear", 1018, 8.99, "summer", False),
    "Swimsuit": (57, "Swimwear", 1018, 19.99, "summer", False),
    "Pyjama set": (297, "Nightwear", 1017, 19.99, "winter", False),
    "Night gown": (293, "Nightwear", 1017, 14.99, "", False),
    "Pyjama jumpsuit/playsuit": (295, "Nightwear", 1017, 14.99, "winter", False),
    "Bag": (66, "Accessories", 1019, 16.99, "", False),
    "Belt": (67, "Accessories", 1019, 9.99, "", False),
    "Cap/peaked": (69, "Accessories", 1019, 8.99, "summer", False),
    "Earring": (70, "Accessories", 1019, 6.99, "", False),
    "Gloves": (71, "Accessories", 1019, 8.99, "winter", False),
    "Hair clip": (72, "Accessories", 1019, 3.99, "", True),
    "Hair string": (73, "Accessories", 1019, 3.99, "", True),
    "Hair/alice band": (74, "Accessories", 1019, 4.99, "", False),
    "Hat/beanie": (75, "Accessories", 1019, 7.99, "winter", False),
    "Necklace": (77, "Accessories", 1019, 8.99, "", False),
    "Other accessories": (78, "Accessories", 1019, 6.99, "", False),
    "Ring": (79, "Accessories", 1019, 5.99, "", False),
    "Scarf": (80, "Accessories", 1019, 11.99, "winter", False),
    "Sunglasses": (81, "Accessories", 1019, 8.99, "summer", False),
    "Tie": (82, "Accessories", 1019, 9.99, "", False),
    "Hair ties": (512, "Accessories", 1019, 2.99, "", True),
    "Soft Toys": (155, "Accessories", 1019, 9.99, "", False),
    "Boots": (87, "Shoes", 1020, 39.99, "winter", False),
    "Sneakers": (94, "Shoes", 1020, 24.99, "", False),
    "Sandals": (91, "Shoes", 1020, 19.99, "summer", False),
    "Pumps": (90, "Shoes", 1020, 29.99, "", False),
    "Flat shoe": (144, "Shoes", 1020, 19.99, "", False),
    "Ballerinas": (86, "Shoes", 1020, 16.99, "summer", False),
}

# index_code -> product_type_name -> weight in that index's assortment
ASSORTMENT: dict[str, dict[str, float]] = {
    "A": {"Trousers": 12, "Sweater": 10, "Dress": 12, "T-shirt": 6, "Top": 7, "Blouse": 8,
          "Shirt": 3, "Vest top": 5, "Skirt": 6, "Jacket": 4, "Coat": 2, "Blazer": 3, "Cardigan": 3,
          "Jumpsuit/Playsuit": 2, "Shorts": 3, "Hoodie": 2, "Leggings/Tights": 1},
    "B": {"Bra": 30, "Underwear bottom": 28, "Underwear Tights": 10, "Socks": 8, "Bikini top": 8,
          "Swimwear bottom": 8, "Swimsuit": 4, "Pyjama set": 4, "Night gown": 2, "Robe": 1,
          "Underwear body": 2, "Leggings/Tights": 3},
    "C": {"Bag": 15, "Earring": 14, "Necklace": 10, "Scarf": 10, "Hat/beanie": 6, "Belt": 6,
          "Hair string": 5, "Hair/alice band": 5, "Sunglasses": 6, "Other accessories": 5,
          "Boots": 6, "Sneakers": 5, "Sandals": 5, "Pumps": 4, "Flat shoe": 3, "Ballerinas": 2,
          "Ring": 3},
    "D": {"Trousers": 16, "Top": 10, "T-shirt": 10, "Sweater": 12, "Dress": 10, "Blouse": 6,
          "Skirt": 6, "Shorts": 5, "Jacket": 4, "Hoodie": 6, "Vest top": 5, "Underwear bottom": 2,
          "Bag": 2, "Earring": 2, "Sneakers": 2, "Boots": 2},
    "F": {"T-shirt": 15, "Trousers": 15, "Shirt": 12, "Sweater": 12, "Hoodie": 6, "Jacket": 6,
          "Shorts": 4, "Underwear bottom": 8, "Socks": 8, "Blazer": 3, "Polo shirt": 3,
          "Cap/peaked": 2, "Tie": 1, "Sneakers": 2, "Coat": 2},
    "G": {"Bodysuit": 20, "Trousers": 12, "T-shirt": 8, "Sweater": 8, "Garment Set": 12,
          "Dress": 6, "Leggings/Tights": 6, "Jacket": 4, "Hat/beanie": 5, "Socks": 5,
          "Pyjama jumpsuit/playsuit": 6, "Dungarees": 4, "Soft Toys": 2},
    "H": {"T-shirt": 14, "Trousers": 14, "Sweater": 10, "Dress": 8, "Top": 4,
          "Leggings/Tights": 8, "Shorts": 5, "Jacket": 5, "Hoodie": 5, "Pyjama set": 6,
          "Underwear bottom": 5, "Socks": 4, "Skirt": 3, "Garment Set": 4, "Sneakers": 2},
    "I": {"T-shirt": 12, "Trousers": 14, "Sweater": 10, "Dress": 7, "Top": 8, "Blouse": 3,
          "Leggings/Tights": 6, "Shorts": 5, "Jacket": 5, "Hoodie": 6, "Pyjama set": 4,
          "Underwear bottom": 5, "Socks": 4, "Skirt": 3, "Sneakers": 2},
    "J": {"Swimsuit": 10, "Bikini top": 6, "Swimwear bottom": 8, "Hat/beanie": 12,
          "Hair clip": 6, "Hair ties": 6, "Sneakers": 8, "Boots": 8, "Sandals": 6, "Bag": 6,
          "Socks": 8, "Gloves": 6, "Cap/peaked": 6},
    "S": {"Leggings/Tights": 18, "Bra": 14, "Top": 12, "T-shirt": 10, "Vest top": 8, "Shorts": 8,
          "Jacket": 6, "Hoodie": 5, "Sweater": 6, "Trousers": 8, "Socks": 4},
}

# garment_group_no -> garment_group_name, department name stem
GARMENT_GROUP_NAMES: dict[int, tuple[str, str]] = {
    1001: ("Unknown", "Other"),
    1002: ("Jersey Basic", "Jersey Basic"),
    1003: ("Knitwear", "Knitwear"),
    1005: ("Jersey Fancy", "Jersey fancy"),
    1006: ("Woven/Jersey/Knitted mix Baby", "Baby Basics"),
    1007: ("Outdoor", "Outwear"),
    1008: ("Dressed", "Tailoring"),
    1009: ("Trousers", "Trouser"),
    1010: ("Blouses", "Blouse"),
    1011: ("Shirts", "Shirt"),
    1012: ("Skirts", "Skirt"),
    1013: ("Dresses Ladies", "Dress"),
    1014: ("Dresses/Skirts girls", "Dresses & Skirts"),
    1016: ("Trousers Denim", "Denim Trousers"),
    1017: ("Under-, Nightwear", "Lingerie & Nightwear"),
    1018: ("Swimwear", "Swimwear"),
    1019: ("Accessories", "Accessories"),
    1020: ("Shoes", "Shoes"),
    1021: ("Socks and Tights", "Socks & Tights"),
    1023: ("Special Offers", "Campaigns"),
    1025: ("Shorts", "Shorts"),
}
DEPARTMENT_PREFIX = {"A": "", "B": "", "C": "", "D": "Divided ", "F": "Men ", "G": "Baby ",
                     "H": "Kids ", "I": "Young ", "J": "Kids ", "S": "Sport "}

# colour_group_code -> (colour_group_name, perceived_colour_value_id, perceived_colour_master_id,
#                       weight)
COLOURS: dict[int, tuple[str, int, int, float]] = {
    9: ("Black", 4, 5, 20.0), 73: ("Dark Blue", 4, 2, 9.0), 10: ("White", 3, 9, 9.0),
    7: ("Grey", 2, 12, 3.0), 8: ("Dark Grey", 4, 12, 2.5), 6: ("Light Grey", 1, 12, 2.5),
    51: ("Light Pink", 1, 4, 4.0), 52: ("Pink", 7, 4, 1.5), 53: ("Dark Pink", 4, 4, 0.8),
    13: ("Beige", 2, 11, 3.0), 12: ("Light Beige", 1, 11, 3.0), 11: ("Off White", 1, 9, 2.5),
    72: ("Blue", 7, 2, 4.0), 71: ("Light Blue", 1, 2, 3.0), 42: ("Red", 5, 18, 2.5),
    43: ("Dark Red", 4, 18, 2.0), 19: ("Greenish Khaki", 2, 20, 2.0),
    93: ("Dark Green", 4, 19, 1.5),
    92: ("Green", 7, 19, 0.5), 22: ("Yellow", 5, 8, 1.5), 21: ("Light Yellow", 3, 8, 0.5),
    17: ("Yellowish Brown", 2, 13, 1.0), 14: ("Dark Beige", 2, 11, 0.7),
    31: ("Light Orange", 3, 3, 1.0), 32: ("Orange", 5, 3, 0.4), 83: ("Dark Turquoise", 4, 7, 0.6),
    81: ("Light Turquoise", 3, 7, 0.5), 63: ("Dark Purple", 4, 6, 0.5),
    61: ("Light Purple", 1, 6, 0.3), 5: ("Gold", 7, 15, 0.8), 3: ("Silver", 3, 15, 0.6),
    1: ("Other", 6, 14, 0.2),
}
COLOUR_VALUE_NAMES = {1: "Dusty Light", 2: "Medium Dusty", 3: "Light", 4: "Dark", 5: "Bright",
                      6: "Undefined", 7: "Medium"}
COLOUR_MASTER_NAMES = {1: "Mole", 2: "Blue", 3: "Orange", 4: "Pink", 5: "Black",
                       6: "Lilac Purple", 7: "Turquoise", 8: "Yellow", 9: "White", 11: "Beige",
                       12: "Grey", 13: "Brown", 14: "undefined", 15: "Metal", 18: "Red",
                       19: "Green", 20: "Khaki green"}

# graphical_appearance_no -> (graphical_appearance_name, weight); Denim only for denim garments
APPEARANCES: dict[int, tuple[str, float]] = {
    1010016: ("Solid", 50), 1010001: ("All over pattern", 11), 1010010: ("Melange", 7),
    1010017: ("Stripe", 5.5), 1010014: ("Placement print", 3), 1010008: ("Front print", 3),
    1010004: ("Check", 2), 1010021: ("Lace", 2), 1010005: ("Colour blocking", 1.5),
    1010026: ("Other structure", 1), 1010007: ("Embroidery", 1), 1010018: ("Treatment", 1),
    1010022: ("Jacquard", 0.6), 1010002: ("Application/3D", 0.6), 1010006: ("Dot", 0.5),
    1010020: ("Contrast", 0.7), 1010009: ("Glittering/Metallic", 0.5), 1010015: ("Sequin", 0.3),
    1010012: ("Mixed solid/pattern", 0.4), 1010013: ("Other pattern", 0.5),
    1010011: ("Metallic", 0.2), 1010027: ("Neps", 0.2), 1010024: ("Chambray", 0.2),
}
DENIM_APPEARANCE = (1010023, "Denim")

# Partner product group bought with a product of a group ("top + bottom", "dress + shoes").
PARTNER_GROUP = {
    "Garment Upper body": "Garment Lower body", "Garment Lower body": "Garment Upper body",
    "Garment Full body": "Shoes", "Shoes": "Garment Full body", "Accessories": "Garment Upper body",
    "Socks & Tights": "Garment Lower body", "Underwear": "Underwear", "Swimwear": "Swimwear",
    "Nightwear": "Nightwear",
}

# Typical price points by product group, for catalogues whose product types are not listed above.
GROUP_PRICE_POINTS = {
    "Garment Upper body": 17.99, "Garment Lower body": 22.99, "Garment Full body": 24.99,
    "Underwear": 9.99, "Socks & Tights": 5.99, "Accessories": 8.99, "Shoes": 25.99,
    "Swimwear": 12.99, "Nightwear": 16.99,
}
DEFAULT_PRICE_POINTS = 12.99

# Words for product names and descriptions.
NAME_SYLLABLES = ("lu", "na", "bo", "ni", "ta", "ti", "mo", "ka", "ri", "sa", "el", "li", "ve",
                  "ro", "ma", "da", "je", "fi", "lo", "ne", "vi", "co", "ra", "mi", "ol", "an",
                  "ja", "de", "sy", "ba")
NAME_SUFFIXES = ("", "", "", "!", " 2", " L/S", " S/S", " HW", " RW", " 3p", " 2p", " basic",
                 " TOP PRODUCT", " EQ")
FITS = ("Fitted", "Relaxed-fit", "Short", "Long", "Oversized", "Wide", "Straight-cut", "Cropped",
        "Slim-fit", "Loose-fitting")
MATERIALS = ("soft cotton jersey", "woven fabric", "a fine knit", "stretch denim",
             "washed cotton twill", "lyocell", "viscose jersey", "recycled polyester",
             "sweatshirt fabric", "lace", "organic cotton", "ribbed jersey", "a soft rib knit",
             "microfibre", "imitation leather", "linen blend")
_TOP = ("a round neckline", "long sleeves", "short sleeves", "a V-neck", "dropped shoulders",
        "ribbing around the neckline, cuffs and hem", "buttons down the front", "a chest pocket",
        "a drawstring hood", "a rounded hem", "narrow shoulder straps", "a wrapover front")
_BOTTOM = ("an elasticated waist", "a zip fly and button", "side pockets", "a high waist",
           "tapered legs", "raw-edge hems", "a concealed zip", "slits in the sides", "wide legs",
           "back pockets")
_BODY = ("adjustable straps", "a lined gusset", "narrow shoulder straps", "a low-cut back",
         "moulded, lightly padded cups", "a hook-and-eye fastening", "lace trims", "a soft rib")
_SMALL = ("a metal buckle", "a lined inside", "a zip compartment", "an adjustable strap",
          "rubber soles", "a decorative bow", "a press-stud", "imitation leather details")
# product_group_name -> phrases a description picks three (distinct) from
FEATURES: dict[str, tuple[str, ...]] = {
    "Garment Upper body": _TOP, "Garment Lower body": _BOTTOM,
    "Garment Full body": _TOP + _BOTTOM, "Underwear": _BODY, "Swimwear": _BODY,
    "Nightwear": _TOP + _BOTTOM, "Socks & Tights": _BODY, "Accessories": _SMALL, "Shoes": _SMALL,
}

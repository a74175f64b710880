package fare

import (
	"testing"
	"testing/fstest"
)

const (
	categoriesHeader = "rider_category_id,rider_category_name,is_default_fare_category,eligibility_url,vnpass_eligibility\n"
	productsHeader   = "fare_product_id,fare_product_name,rider_category_id,fare_media_id,amount,currency,vnpass_duration_amount,vnpass_duration_unit\n"
	// The base feed's products (lines 2, 3) in the wider header.
	baseProducts   = "p8,P8,adult,face,8000,VND,,\np9,P9,adult,face,9000,VND,,\n"
	legRulesHeader = "leg_group_id,network_id,from_area_id,to_area_id,fare_product_id,rule_priority\n"
	// The base feed's rules (lines 2-7), with leg group h for journeys from c.
	baseRules      = "g,n,a,b,p8,\ng,n,b,a,p8,\ng,n,a,c,p9,\nh,n,c,a,p9,\ng,n,b,c,p8,\nh,n,c,b,p8,\n"
	transferHeader = "from_leg_group_id,to_leg_group_id,transfer_count,duration_limit,duration_limit_type,fare_transfer_type,fare_product_id\n"
)

// passFeed is the base feed with a day pass (products line 4) sold for
// network n (rules line 8), leg groups g and h, and a transfer discount t
// (products line 5).
func passFeed(fsys fstest.MapFS) {
	set(fsys, "fare_products.txt", productsHeader+baseProducts+
		"day,Day,adult,face,30000,VND,1,day\n"+
		"t,Transfer,,face,-1000,VND,,\n")
	set(fsys, "fare_leg_rules.txt", legRulesHeader+baseRules+",n,,,day,\n")
}

func TestLoadErrorsNewFields(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(fstest.MapFS)
		want string
	}{
		// rider_categories.txt
		{"eligibility url", func(f fstest.MapFS) {
			set(f, "rider_categories.txt", categoriesHeader+"adult,Adult,1,,\nstudent,Student,0,ftp://example.org/,student\n")
		}, `rider_categories.txt:3: eligibility_url "ftp://example.org/": must be a full http or https URL`},
		{"eligibility url without host", func(f fstest.MapFS) {
			set(f, "rider_categories.txt", categoriesHeader+"adult,Adult,1,https:///x,\n")
		}, `rider_categories.txt:2: eligibility_url "https:///x": must be a full http or https URL`},
		{"eligibility word", func(f fstest.MapFS) {
			set(f, "rider_categories.txt", categoriesHeader+"adult,Adult,1,,\nstudent,Student,0,,pupil\n")
		}, `rider_categories.txt:3: vnpass_eligibility "pupil": must be age<N, age>=N, disabled, meritorious, student or worker`},
		{"eligibility age", func(f fstest.MapFS) {
			set(f, "rider_categories.txt", categoriesHeader+"adult,Adult,1,,\nkid,Kid,0,,age<six\n")
		}, `rider_categories.txt:3: vnpass_eligibility "age<six": the age must be a whole number from 1 to 150`},
		{"eligibility age sign", func(f fstest.MapFS) {
			set(f, "rider_categories.txt", categoriesHeader+"adult,Adult,1,,\nold,Old,0,,age>=+60\n")
		}, `rider_categories.txt:3: vnpass_eligibility "age>=+60": the age must be a whole number from 1 to 150`},
		{"eligibility age zero", func(f fstest.MapFS) {
			set(f, "rider_categories.txt", categoriesHeader+"adult,Adult,1,,\nold,Old,0,,age>=0\n")
		}, `rider_categories.txt:3: vnpass_eligibility "age>=0": the age must be a whole number from 1 to 150`},
		{"default with eligibility", func(f fstest.MapFS) {
			set(f, "rider_categories.txt", categoriesHeader+"adult,Adult,1,,age>=18\n")
		}, `rider_categories.txt:2: vnpass_eligibility "age>=18": the default category is everyone's; leave it empty`},

		// fare_products.txt: passes and negative amounts.
		{"duration unit missing", func(f fstest.MapFS) {
			set(f, "fare_products.txt", productsHeader+baseProducts+"day,Day,adult,face,30000,VND,1,\n")
		}, `fare_products.txt:4: vnpass_duration_unit: missing value (vnpass_duration_amount is set)`},
		{"duration amount missing", func(f fstest.MapFS) {
			set(f, "fare_products.txt", productsHeader+baseProducts+"day,Day,adult,face,30000,VND,,day\n")
		}, `fare_products.txt:4: vnpass_duration_amount: missing value (vnpass_duration_unit is set)`},
		{"duration unit", func(f fstest.MapFS) {
			set(f, "fare_products.txt", productsHeader+baseProducts+"wk,Week,adult,face,30000,VND,1,week\n")
		}, `fare_products.txt:4: vnpass_duration_unit "week": must be day or month`},
		{"zero days", func(f fstest.MapFS) {
			set(f, "fare_products.txt", productsHeader+baseProducts+"day,Day,adult,face,30000,VND,0,day\n")
		}, `fare_products.txt:4: vnpass_duration_amount "0": must be a whole number from 1 to 366`},
		{"thirteen months", func(f fstest.MapFS) {
			set(f, "fare_products.txt", productsHeader+baseProducts+"yr,Year,adult,face,3000000,VND,13,month\n")
		}, `fare_products.txt:4: vnpass_duration_amount "13": must be a whole number from 1 to 12`},
		{"duration text", func(f fstest.MapFS) {
			set(f, "fare_products.txt", productsHeader+baseProducts+"day,Day,adult,face,30000,VND,one,day\n")
		}, `fare_products.txt:4: vnpass_duration_amount "one": must be a whole number from 1 to 366`},
		{"negative pass", func(f fstest.MapFS) {
			set(f, "fare_products.txt", productsHeader+baseProducts+"day,Day,adult,face,-30000,VND,1,day\n")
		}, `fare_products.txt:4: amount "-30000": a pass cannot cost a negative amount`},
		{"durations disagree", func(f fstest.MapFS) {
			set(f, "fare_products.txt", productsHeader+baseProducts+"day,Day,adult,face,30000,VND,1,day\nday,Day,student,face,20000,VND,2,day\n")
		}, `fare_products.txt:5: vnpass_duration_amount "2": differs from line 4 for the same fare_product_id`},
		{"units disagree", func(f fstest.MapFS) {
			set(f, "fare_products.txt", productsHeader+baseProducts+"day,Day,adult,face,30000,VND,1,day\nday,Day,student,face,20000,VND,1,month\n")
		}, `fare_products.txt:5: vnpass_duration_unit "month": differs from line 4 for the same fare_product_id`},
		{"pass and single fare under one id", func(f fstest.MapFS) {
			set(f, "fare_products.txt", productsHeader+baseProducts+"p8,P8,student,face,30000,VND,1,day\n")
		}, `fare_products.txt:4: vnpass_duration_amount "1": differs from line 2 for the same fare_product_id`},

		// fare_leg_rules.txt: pass rules.
		{"pass with an area", func(f fstest.MapFS) {
			passFeed(f)
			set(f, "fare_leg_rules.txt", legRulesHeader+baseRules+",n,a,,day,\n")
		}, `fare_leg_rules.txt:8: from_area_id "a": a pass covers its whole network; leave from_area_id and to_area_id empty`},
		{"pass with a destination", func(f fstest.MapFS) {
			passFeed(f)
			set(f, "fare_leg_rules.txt", legRulesHeader+baseRules+",n,,c,day,\n")
		}, `fare_leg_rules.txt:8: to_area_id "c": a pass covers its whole network; leave from_area_id and to_area_id empty`},
		{"pass without rule_priority", func(f fstest.MapFS) {
			passFeed(f)
			set(f, "fare_leg_rules.txt", "leg_group_id,network_id,from_area_id,to_area_id,fare_product_id\ng,n,a,b,p8\n,n,,,day\n")
		}, `fare_leg_rules.txt:3: from_area_id: empty, but without a rule_priority column GTFS matches an empty area only to areas no other rule names; add the column (it may stay empty) so that the pass covers any area`},
		{"pass in two networks", func(f fstest.MapFS) {
			passFeed(f)
			appendTo(f, "networks.txt", "m,Other,op2\n")
			appendTo(f, "fare_leg_rules.txt", ",m,,,day,\n")
		}, `fare_leg_rules.txt:9: network_id "m": pass "day" already covers network "n" at line 8; a pass covers one network`},
		{"pass rule twice", func(f fstest.MapFS) {
			passFeed(f)
			appendTo(f, "fare_leg_rules.txt", ",n,,,day,\n")
		}, `fare_leg_rules.txt:9: duplicate rule, first at line 8`},
		{"single fare with empty areas", func(f fstest.MapFS) {
			passFeed(f)
			appendTo(f, "fare_leg_rules.txt", ",n,,,p8,\n")
		}, "fare_leg_rules.txt:9: from_area_id: missing value (empty areas, which match any area, are not supported yet)\n" +
			"fare_leg_rules.txt:9: to_area_id: missing value (empty areas, which match any area, are not supported yet)"},
		{"transfer discount as a leg fare", func(f fstest.MapFS) {
			passFeed(f)
			appendTo(f, "fare_leg_rules.txt", "g,n,a,a,t,\ng,n,b,b,t,\n")
		}, `fare_leg_rules.txt:9: fare_product_id "t": amount -1000 at fare_products.txt:5 is negative; only a transfer discount (a product of fare_transfer_rules.txt) may be negative`},
		{"rule priority text", func(f fstest.MapFS) {
			passFeed(f)
			appendTo(f, "fare_leg_rules.txt", "g,n,a,a,p8,high\n")
		}, `fare_leg_rules.txt:9: rule_priority "high": must be a whole number from 0 to 2147483647`},

		// fare_transfer_rules.txt
		{"transfer type column", func(f fstest.MapFS) {
			passFeed(f)
			set(f, "fare_transfer_rules.txt", "from_leg_group_id,to_leg_group_id\ng,h\n")
		}, `fare_transfer_rules.txt:1: fare_transfer_type: missing required column`},
		{"unknown leg group", func(f fstest.MapFS) {
			passFeed(f)
			set(f, "fare_transfer_rules.txt", transferHeader+"g,x,,600,2,1,\n")
		}, `fare_transfer_rules.txt:2: to_leg_group_id "x": unknown leg group (no leg_group_id in fare_leg_rules.txt)`},
		{"unknown from leg group", func(f fstest.MapFS) {
			passFeed(f)
			set(f, "fare_transfer_rules.txt", transferHeader+"y,h,,600,2,1,\n")
		}, `fare_transfer_rules.txt:2: from_leg_group_id "y": unknown leg group (no leg_group_id in fare_leg_rules.txt)`},
		{"transfer count forbidden", func(f fstest.MapFS) {
			passFeed(f)
			set(f, "fare_transfer_rules.txt", transferHeader+"g,h,1,,,1,\n")
		}, `fare_transfer_rules.txt:2: transfer_count "1": forbidden when from_leg_group_id and to_leg_group_id differ`},
		{"transfer count required", func(f fstest.MapFS) {
			passFeed(f)
			set(f, "fare_transfer_rules.txt", transferHeader+"g,g,,,,1,\n")
		}, `fare_transfer_rules.txt:2: transfer_count: missing value (required when from_leg_group_id equals to_leg_group_id)`},
		{"transfer count zero", func(f fstest.MapFS) {
			passFeed(f)
			set(f, "fare_transfer_rules.txt", transferHeader+"g,g,0,,,1,\n")
		}, `fare_transfer_rules.txt:2: transfer_count "0": must be -1 (no limit) or at least 1`},
		{"transfer count range", func(f fstest.MapFS) {
			passFeed(f)
			set(f, "fare_transfer_rules.txt", transferHeader+"g,g,-2,,,1,\n")
		}, `fare_transfer_rules.txt:2: transfer_count "-2": must be a whole number from -1 to 1000`},
		{"limit without type", func(f fstest.MapFS) {
			passFeed(f)
			set(f, "fare_transfer_rules.txt", transferHeader+"g,h,,600,,1,\n")
		}, `fare_transfer_rules.txt:2: duration_limit_type: missing value (required when duration_limit is set)`},
		{"type without limit", func(f fstest.MapFS) {
			passFeed(f)
			set(f, "fare_transfer_rules.txt", transferHeader+"g,h,,,2,1,\n")
		}, `fare_transfer_rules.txt:2: duration_limit_type "2": forbidden without duration_limit`},
		{"limit zero", func(f fstest.MapFS) {
			passFeed(f)
			set(f, "fare_transfer_rules.txt", transferHeader+"g,h,,0,2,1,\n")
		}, `fare_transfer_rules.txt:2: duration_limit "0": must be a whole number from 1 to 604800`},
		{"limit type range", func(f fstest.MapFS) {
			passFeed(f)
			set(f, "fare_transfer_rules.txt", transferHeader+"g,h,,600,4,1,\n")
		}, `fare_transfer_rules.txt:2: duration_limit_type "4": must be a whole number from 0 to 3`},
		{"transfer type missing", func(f fstest.MapFS) {
			passFeed(f)
			set(f, "fare_transfer_rules.txt", transferHeader+"g,h,,600,2,,\n")
		}, `fare_transfer_rules.txt:2: fare_transfer_type: missing value`},
		{"transfer type range", func(f fstest.MapFS) {
			passFeed(f)
			set(f, "fare_transfer_rules.txt", transferHeader+"g,h,,600,2,3,\n")
		}, `fare_transfer_rules.txt:2: fare_transfer_type "3": must be a whole number from 0 to 2`},
		{"transfer product unknown", func(f fstest.MapFS) {
			passFeed(f)
			set(f, "fare_transfer_rules.txt", transferHeader+"g,h,,600,2,1,zz\n")
		}, `fare_transfer_rules.txt:2: fare_product_id "zz": unknown fare product`},
		{"transfer product is a pass", func(f fstest.MapFS) {
			passFeed(f)
			set(f, "fare_transfer_rules.txt", transferHeader+"g,h,,600,2,1,day\n")
		}, `fare_transfer_rules.txt:2: fare_product_id "day": a pass cannot price a transfer`},
		{"transfer rule twice", func(f fstest.MapFS) {
			passFeed(f)
			set(f, "fare_transfer_rules.txt", transferHeader+"g,h,,600,2,1,t\ng,h,,600,2,0,t\n")
		}, `fare_transfer_rules.txt:3: duplicate rule, first at line 2`},
	} {
		t.Run(tc.name, func(t *testing.T) { checkLoadError(t, tc.edit, tc.want) })
	}
}

// The pass feed and its transfer rules load: the wider headers, empty
// rule_priority, rule_priority 0, a negative transfer product.
func TestLoadPassFeed(t *testing.T) {
	fsys := baseFeed()
	passFeed(fsys)
	appendTo(fsys, "fare_leg_rules.txt", "g,n,a,a,p9,0\n")
	set(fsys, "fare_transfer_rules.txt", transferHeader+"g,h,,600,2,1,t\nh,h,-1,,,0,\n,,-1,,,2,p9\n")
	tab, err := LoadGTFS(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if q, err := tab.Price("a", "a"); err != nil || !q.Amount.Equal(vnd(9000)) || q.RuleID != "fare_leg_rules.txt:9" {
		t.Errorf("Price(a, a) = %+v, %v", q, err)
	}
	if len(tab.transfers) != 3 || tab.passes["day"].network != "n" {
		t.Errorf("transfers %+v, passes %+v", tab.transfers, tab.passes)
	}
}

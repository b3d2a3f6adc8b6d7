package main

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// The bench table: 20 columns, ~500 bytes per row, the mix of types a real
// order table has. commit_us is the writer's clock (µs since the epoch) read
// just before the transaction's statements are sent; a consumer subtracts it
// from the record's LogAppendTime to get commit-to-Kafka latency.
const benchTableDDL = `CREATE TABLE %s (
  id          BIGINT       NOT NULL PRIMARY KEY,
  customer_id INT          NOT NULL,
  merchant_id INT          NOT NULL,
  status      SMALLINT     NOT NULL,
  quantity    INT          NOT NULL,
  amount      DECIMAL(12,2) NOT NULL,
  tax         DECIMAL(12,2) NOT NULL,
  currency    VARCHAR(3)   NOT NULL,
  sku         VARCHAR(32)  NOT NULL,
  title       VARCHAR(120) NOT NULL,
  email       VARCHAR(80)  NOT NULL,
  street      VARCHAR(80)  NOT NULL,
  city        VARCHAR(40)  NOT NULL,
  country     VARCHAR(2)   NOT NULL,
  note        VARCHAR(200) NULL,
  created_at  DATETIME(6)  NOT NULL,
  updated_at  DATETIME(6)  NOT NULL,
  attrs       JSON         NULL,
  version     INT          NOT NULL,
  commit_us   BIGINT       NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`

const insertColumns = "(id,customer_id,merchant_id,status,quantity,amount,tax,currency,sku,title,email,street,city,country,note,created_at,updated_at,attrs,version,commit_us)"

var (
	words      = strings.Fields("amber basalt cedar delta ember fjord garnet harbor indigo juniper kestrel lagoon marble nectar onyx pepper quartz raven saffron timber umber velvet willow xenon yarrow zephyr")
	cities     = strings.Fields("Lisbon Porto Madrid Lyon Turin Gdansk Tallinn Aarhus Bergen Ghent Utrecht Leipzig Graz Brno Cork")
	countries  = strings.Fields("PT ES FR IT PL EE DK NO BE NL DE AT CZ IE")
	currencies = strings.Fields("EUR USD GBP PLN DKK NOK CZK")
)

// rowGen makes rows. It is not safe for concurrent use: each writer owns one.
type rowGen struct {
	r *rand.Rand
}

func newRowGen(seed uint64) *rowGen { return &rowGen{r: rand.New(rand.NewPCG(seed, 0x7a6d))} }

func (g *rowGen) word() string { return words[g.r.IntN(len(words))] }

func (g *rowGen) phrase(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(g.word())
	}
	return b.String()
}

// appendRow appends one row's VALUES tuple. Every value is generated from
// the fixed word lists above (no quotes or backslashes), so quoting needs no
// escaping; the statements go as plain text (one round trip each, where the
// driver would prepare+execute+close for placeholders).
func (g *rowGen) appendRow(b []byte, id int64, commitUS int64) []byte {
	now := time.UnixMicro(commitUS).UTC()
	created := now.Add(-time.Duration(g.r.IntN(86400*30)) * time.Second)
	b = append(b, '(')
	b = strconv.AppendInt(b, id, 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(g.r.IntN(5_000_000)), 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(g.r.IntN(50_000)), 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(g.r.IntN(8)), 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(1+g.r.IntN(20)), 10)
	b = append(b, ',')
	b = appendDecimal(b, g.r.Int64N(99_999_999))
	b = append(b, ',')
	b = appendDecimal(b, g.r.Int64N(9_999_999))
	b = appendStr(b, currencies[g.r.IntN(len(currencies))])
	b = appendStr(b, fmt.Sprintf("SKU-%08d-%s", g.r.IntN(100_000_000), g.word()))
	b = appendStr(b, g.phrase(8+g.r.IntN(6)))
	b = appendStr(b, fmt.Sprintf("%s.%s%d@example.com", g.word(), g.word(), g.r.IntN(1000)))
	b = appendStr(b, fmt.Sprintf("%d %s %s street", 1+g.r.IntN(300), g.word(), g.word()))
	b = appendStr(b, cities[g.r.IntN(len(cities))])
	b = appendStr(b, countries[g.r.IntN(len(countries))])
	b = appendStr(b, g.phrase(10+g.r.IntN(10)))
	b = appendStr(b, created.Format("2006-01-02 15:04:05.000000"))
	b = appendStr(b, now.Format("2006-01-02 15:04:05.000000"))
	b = appendStr(b, fmt.Sprintf(`{"channel":"%s","campaign":"%s","tags":["%s","%s"],"gift":%t,"priority":%d,"device":{"os":"%s","app":"%d.%d"}}`,
		g.word(), g.phrase(2), g.word(), g.word(), g.r.IntN(2) == 0, g.r.IntN(5), g.word(), g.r.IntN(9), g.r.IntN(30)))
	b = append(b, ',', '1', ',')
	b = strconv.AppendInt(b, commitUS, 10)
	return append(b, ')')
}

// appendInsert appends "INSERT INTO t (...) VALUES (...),(...)" for ids
// first..first+n-1.
func (g *rowGen) appendInsert(b []byte, table string, first int64, n int, commitUS int64) []byte {
	b = append(b, "INSERT INTO "...)
	b = append(b, table...)
	b = append(b, ' ')
	b = append(b, insertColumns...)
	b = append(b, " VALUES "...)
	for i := 0; i < n; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = g.appendRow(b, first+int64(i), commitUS)
	}
	return b
}

// updateSQL changes a few columns of the given rows, commit_us among them
// (so an update's after image carries its own commit time).
func (g *rowGen) updateSQL(table string, ids []int64, commitUS int64) string {
	return fmt.Sprintf("UPDATE %s SET status=%d, quantity=quantity+1, amount=amount+1.25, note='%s', version=version+1, updated_at=NOW(6), commit_us=%d WHERE id IN (%s)",
		table, g.r.IntN(8), g.phrase(12), commitUS, joinIDs(ids))
}

func deleteSQL(table string, ids []int64) string {
	return fmt.Sprintf("DELETE FROM %s WHERE id IN (%s)", table, joinIDs(ids))
}

func joinIDs(ids []int64) string {
	b := make([]byte, 0, len(ids)*12)
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, id, 10)
	}
	return string(b)
}

func appendStr(b []byte, s string) []byte {
	b = append(b, ',', '\'')
	b = append(b, s...)
	return append(b, '\'')
}

// appendDecimal writes cents as a DECIMAL(12,2) literal.
func appendDecimal(b []byte, cents int64) []byte {
	b = strconv.AppendInt(b, cents/100, 10)
	b = append(b, '.')
	c := cents % 100
	if c < 10 {
		b = append(b, '0')
	}
	return strconv.AppendInt(b, c, 10)
}

package codepage_test

import (
	"fmt"

	"tillbox/drivers/codepage"
)

func ExamplePage_Encode() {
	p, err := codepage.Lookup("cp852")
	if err != nil {
		fmt.Println(err)
		return
	}
	b, missing := p.Encode("Żółć 5 €")
	fmt.Printf("% x\n", b)
	fmt.Printf("%q\n", missing)
	fmt.Println(p.Decode(b))
	// Output:
	// bd a2 88 86 20 35 20 45 55 52
	// ['€']
	// Żółć 5 EUR
}

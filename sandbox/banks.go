package sandbox

import (
	"slices"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/logos"
)

// logoBase is where the logos of the merchants in generated transactions
// are said to be (brandDetails.logo); bankgate does not serve them.
const logoBase = "https://logos.bankgate.dev/"

func logo(slug string) string { return logoBase + slug + ".png" }

// bankLogo is the path of a sandbox bank's logo, which bankgate serves
// itself (package logos). It panics at start-up if the logo is missing.
func bankLogo(slug string) string {
	u := logos.URL(slug)
	if u == "" {
		panic("sandbox: no logo " + slug)
	}
	return u
}

// bankInfo is a sandbox bank together with what the data generator needs
// to know about it.
type bankInfo struct {
	bank bankgate.Bank
	// ibanCode is the bank identifier inside the IBAN: 3 digits in AE, 2 in
	// SA.
	ibanCode  string
	country   *country
	cardNames []string
	// brand is the bank as the merchant of its own transactions (ATM,
	// transfers, interest).
	brand merchant

	// Payment metadata.
	coolDownHrs   int // beneficiaryCoolDownPeriod, hours
	rangeDays     int // transactionRange, days; at least 365
	branchName    string
	branchAddress string
	address       bankgate.LinesAddress
}

// The sandbox banks. Their IDs follow Dapi's sandbox naming
// (DAPIBANK_AE_ADCB) with a SANDBOX_ prefix so that they can never be
// mistaken for production bank IDs.
var bankInfos = []*bankInfo{
	{
		bank: bankgate.Bank{
			ID: "SANDBOX_AE_ADCB", Name: "Abu Dhabi Commercial Bank (Sandbox)", ShortName: "ADCB",
			Country: "AE", CountryName: "UNITED ARAB EMIRATES", SwiftCode: "ADCBAEAA",
			PrimaryColor: "#E10A0A", SecondaryColor: "#FFFFFF", Logo: bankLogo("adcb"), Sandbox: true,
		},
		ibanCode: "030", country: &countryAE,
		cardNames:   []string{"ADCB TouchPoints Platinum Credit Card", "ADCB Traveller Credit Card", "ADCB 365 Cashback Card"},
		coolDownHrs: 6, rangeDays: 400, branchName: "Head Office", branchAddress: "Sheikh Zayed Bin Sultan Street, Abu Dhabi",
		address: bankgate.LinesAddress{Line1: "Sheikh Zayed Bin Sultan Street", Line2: "Abu Dhabi", Line3: "UNITED ARAB EMIRATES"},
	},
	{
		bank: bankgate.Bank{
			ID: "SANDBOX_AE_ENBD", Name: "Emirates NBD (Sandbox)", ShortName: "Emirates NBD",
			Country: "AE", CountryName: "UNITED ARAB EMIRATES", SwiftCode: "EBILAEAD",
			PrimaryColor: "#072B61", SecondaryColor: "#F58025", Logo: bankLogo("enbd"), Sandbox: true,
		},
		ibanCode: "026", country: &countryAE,
		cardNames:   []string{"Skywards Infinite Credit Card", "Emirates NBD Go4it Platinum Card", "Emirates NBD Visa Signature Card"},
		coolDownHrs: 6, rangeDays: 400, branchName: "Deira Branch", branchAddress: "Baniyas Road, Deira, Dubai",
		address: bankgate.LinesAddress{Line1: "Baniyas Road Deira", Line2: "Dubai", Line3: "UNITED ARAB EMIRATES"},
	},
	{
		bank: bankgate.Bank{
			ID: "SANDBOX_AE_FAB", Name: "First Abu Dhabi Bank (Sandbox)", ShortName: "FAB",
			Country: "AE", CountryName: "UNITED ARAB EMIRATES", SwiftCode: "NBADAEAA",
			PrimaryColor: "#1D3E8C", SecondaryColor: "#00B2E3", Logo: bankLogo("fab"), Sandbox: true,
		},
		ibanCode: "035", country: &countryAE,
		cardNames:   []string{"FAB Cashback Credit Card", "FAB Etihad Guest Visa Infinite", "FAB Rewards Platinum Card"},
		coolDownHrs: 4, rangeDays: 730, branchName: "Khalifa Business Park Branch", branchAddress: "Khalifa Business Park 1, Al Qurm, Abu Dhabi",
		address: bankgate.LinesAddress{Line1: "Khalifa Business Park 1 Al Qurm", Line2: "Abu Dhabi", Line3: "UNITED ARAB EMIRATES"},
	},
	{
		bank: bankgate.Bank{
			ID: "SANDBOX_SA_RAJHI", Name: "Al Rajhi Bank (Sandbox)", ShortName: "Al Rajhi",
			Country: "SA", CountryName: "SAUDI ARABIA", SwiftCode: "RJHISARI",
			PrimaryColor: "#1B3F93", SecondaryColor: "#FFFFFF", Logo: bankLogo("alrajhi"), Sandbox: true,
		},
		ibanCode: "80", country: &countrySA,
		cardNames:   []string{"Al Rajhi Visa Signature Card", "Al Rajhi Mastercard Titanium", "Al Rajhi Cashback Card"},
		coolDownHrs: 24, rangeDays: 400, branchName: "Olaya Branch", branchAddress: "King Fahd Road, Al Olaya, Riyadh 12214",
		address: bankgate.LinesAddress{Line1: "King Fahd Road Al Olaya", Line2: "Riyadh", Line3: "SAUDI ARABIA"},
	},
	{
		bank: bankgate.Bank{
			ID: "SANDBOX_SA_RIYAD", Name: "Riyad Bank (Sandbox)", ShortName: "Riyad Bank",
			Country: "SA", CountryName: "SAUDI ARABIA", SwiftCode: "RIBLSARI",
			PrimaryColor: "#00548B", SecondaryColor: "#F7A823", Logo: bankLogo("riyadbank"), Sandbox: true,
		},
		ibanCode: "20", country: &countrySA,
		cardNames:   []string{"Riyad Bank Visa Platinum", "Riyad Bank Mastercard World", "Riyad Bank Cashback Card"},
		coolDownHrs: 24, rangeDays: 400, branchName: "Granada Branch", branchAddress: "Eastern Ring Road, Granada, Riyadh 13241",
		address: bankgate.LinesAddress{Line1: "Eastern Ring Road Granada", Line2: "Riyadh", Line3: "SAUDI ARABIA"},
	},
	{
		bank: bankgate.Bank{
			ID: "SANDBOX_SA_SNB", Name: "Saudi National Bank (Sandbox)", ShortName: "SNB",
			Country: "SA", CountryName: "SAUDI ARABIA", SwiftCode: "NCBKSAJE",
			PrimaryColor: "#00A19A", SecondaryColor: "#00205B", Logo: bankLogo("snb"), Sandbox: true,
		},
		ibanCode: "10", country: &countrySA,
		cardNames:   []string{"SNB AlAhli Visa Infinite", "SNB Mastercard Platinum", "SNB Cashback Card"},
		coolDownHrs: 12, rangeDays: 400, branchName: "King Abdulaziz Road Branch", branchAddress: "King Abdulaziz Road, Al Ruwais, Jeddah 23213",
		address: bankgate.LinesAddress{Line1: "King Abdulaziz Road Al Ruwais", Line2: "Jeddah", Line3: "SAUDI ARABIA"},
	},
}

// bankByID indexes bankInfos.
var bankByID = func() map[string]*bankInfo {
	m := make(map[string]*bankInfo, len(bankInfos))
	for _, b := range bankInfos {
		b.brand = merchant{Name: b.bank.ShortName, Logo: b.bank.Logo}
		m[b.bank.ID] = b
	}
	return m
}()

// sortedBanks is Banks' answer, computed once.
var sortedBanks = func() []bankgate.Bank {
	out := make([]bankgate.Bank, 0, len(bankInfos))
	for _, b := range bankInfos {
		out = append(out, b.bank)
	}
	slices.SortFunc(out, func(a, b bankgate.Bank) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return out
}()

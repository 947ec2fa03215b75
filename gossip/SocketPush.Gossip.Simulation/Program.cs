Console.Error.WriteLine("The gossip simulator is being built; see gossip/README.md.");
return 2;
